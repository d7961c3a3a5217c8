//! `facegate recall`: how many faces detection finds, on sets made for the purpose.

pub mod group;
pub mod turned;

use crate::settings::Settings;

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Strongly turned faces, found by the open pack with and without its fallback.
    Turned(turned::Args),
    /// Every face of large composite group photos, and selfie search among them.
    Group(group::Args),
}

pub fn run(settings: &Settings, command: &Command) -> anyhow::Result<()> {
    match command {
        Command::Turned(args) => turned::run(settings, args),
        Command::Group(args) => group::run(settings, args),
    }
}

//! `facegate eval` (placeholder while the evaluation module lands).
pub fn run(_: &crate::settings::Settings, _: &Args) -> anyhow::Result<()> { Ok(()) }
#[derive(Debug, clap::Args)] pub struct Args {}

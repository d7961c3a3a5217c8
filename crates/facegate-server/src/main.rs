//! `facegate`: one binary, several roles.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use facegate_server::settings::Settings;
use facegate_server::{cli, telemetry};

#[derive(Debug, Parser)]
#[command(
    name = "facegate",
    version,
    about = "Self-hosted face verification and recognition"
)]
struct Cli {
    /// TOML configuration file (environment variables FACEGATE__* override it).
    #[arg(long, global = true, env = "FACEGATE_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the HTTP API (embedded store, no external services by default).
    Serve,
    /// Run the asynchronous workers without the HTTP API: Kafka verification requests
    /// (when `kafka` is configured), queued jobs and webhook deliveries.
    Worker,
    /// Apply, revert or list the store's schema migrations.
    Migrate(cli::migrate::Args),
    /// Detect every face in an image and print them as JSON.
    Detect(cli::detect::Args),
    /// Print the embedding of the main face of an image as JSON.
    Embed(cli::embed::Args),
    /// Compare the main faces of two images.
    Verify(cli::verify::Args),
    /// Measure verification accuracy on a labelled pair list (LFW protocol).
    Eval(cli::eval::Args),
    /// Measure the passive liveness check on labelled live and spoof images.
    EvalPad(cli::eval_pad::Args),
    /// Measure per-stage latency and throughput.
    Bench(cli::bench::Args),
    /// Measure detection recall: turned faces, and every face of large group photos.
    #[command(subcommand)]
    Recall(cli::recall::Command),
    /// Print the OpenAPI document of the HTTP API.
    Openapi,
    /// List the model files, their licences and whether they are installed intact.
    Models,
    /// Configuration tools.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Maintenance of stored data.
    #[command(subcommand)]
    Admin(AdminCommand),
}

#[derive(Debug, Subcommand)]
enum AdminCommand {
    /// Compute the embeddings of references enrolled with another model again, from their
    /// stored face crops, with the configured model. Run it after changing the model.
    Reembed,
}

#[derive(Debug, Subcommand)]
enum ConfigCommand {
    /// Print the effective configuration as TOML.
    Print,
}

fn main() -> ExitCode {
    // Before any HTTP client is built (the OTLP exporter, webhooks): reqwest needs it.
    facegate_notify::install_crypto_provider();
    let cli = Cli::parse();
    let settings = match Settings::load(cli.config.as_deref()) {
        Ok(s) => s,
        Err(e) => return cli::fail(&e),
    };
    // Dropped when `main` returns, after every command: flushes the spans still queued.
    let _telemetry = match telemetry::init(&settings.log, &settings.telemetry) {
        Ok(guard) => guard,
        Err(e) => return cli::fail(&e),
    };
    let result = match cli.command {
        Command::Serve => cli::serve::run(&settings),
        Command::Worker => cli::serve::work(&settings),
        Command::Migrate(args) => cli::migrate::run(&settings, &args),
        Command::Detect(args) => cli::detect::run(&settings, &args),
        Command::Embed(args) => cli::embed::run(&settings, &args),
        Command::Verify(args) => cli::verify::run(&settings, &args),
        Command::Eval(args) => cli::eval::run(&settings, &args),
        Command::EvalPad(args) => cli::eval_pad::run(&settings, &args),
        Command::Bench(args) => cli::bench::run(&settings, &args),
        Command::Recall(args) => cli::recall::run(&settings, &args),
        Command::Models => cli::models::run(&settings),
        Command::Openapi => {
            print!("{}", facegate_http::routes::docs::openapi_json());
            Ok(())
        }
        Command::Config(ConfigCommand::Print) => cli::print_config(&settings),
        Command::Admin(AdminCommand::Reembed) => cli::admin::reembed(&settings),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => cli::fail(&e),
    }
}

use std::process::ExitCode;

use clap::Parser;
mod cli;
mod commands;

use cli::{Cli, Command, LogFormat};
use vigil::exit::Exit;

fn main() -> ExitCode {
    let cli = Cli::parse();
    // The controller logs each cycle by default; one-shot commands only warn.
    let (json, default) = match &cli.command {
        Command::Run { log_format, .. } => (*log_format == LogFormat::Json, "warn,vigil=info"),
        _ => (false, "warn"),
    };
    let logs = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("VIGIL_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default)),
        )
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        // Every log line passes through redaction: no field can carry a secret out.
        .with_writer(|| vigil::secret::RedactingStderr);
    if json {
        logs.json().init();
    } else {
        logs.init();
    }
    // One-shot commands wait on the network, not the CPU: one thread keeps their
    // memory in one allocator arena. The controller serves HTTP beside its cycles.
    let mut builder = match &cli.command {
        Command::Run { .. } => tokio::runtime::Builder::new_multi_thread(),
        _ => tokio::runtime::Builder::new_current_thread(),
    };
    let runtime = match builder.enable_all().build() {
        Ok(rt) => rt,
        Err(err) => {
            eprintln!("error: cannot start the async runtime: {err:#}");
            return Exit::Error.into();
        }
    };
    match runtime.block_on(commands::run(cli)) {
        Ok(exit) => exit.into(),
        Err(err) => {
            eprintln!(
                "error: {}",
                vigil::escape::visible_lines(&vigil::secret::redact_text(&format!("{err:#}")))
            );
            Exit::Error.into()
        }
    }
}

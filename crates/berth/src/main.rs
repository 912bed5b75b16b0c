//! `berth`: a thin command-line client of berthd's Docker-shaped API.

mod cli;
mod client;
mod cmd;
mod display;
mod format;
mod jsonfmt;
mod listing;
mod netopt;
mod ports;
mod query;
mod stream;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("berth: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = rt.block_on(async {
        let client = client::Client::from_host(&cli.host)?;
        cmd::dispatch(&client, cli.cmd).await
    });
    match result {
        Ok(code) => ExitCode::from(u8::try_from(code & 0xff).unwrap_or(1)),
        Err(e) => {
            // Daemon errors already read "Error response from daemon: ...".
            eprintln!("{}", cmd::render_error(&e));
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests;

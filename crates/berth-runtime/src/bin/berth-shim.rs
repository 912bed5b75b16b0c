//! `berth-shim run SPEC.json` starts a container and stays as its parent (see
//! `berth_runtime::shim`); `berth-shim exec --pid PID ... -- CMD...` runs a command in it.

use std::path::Path;

use berth_runtime::shim::{exec_main, run_main, ExecOptions};

const USAGE: &str = "usage: berth-shim run SPEC.json | berth-shim spawner SHIM | berth-shim exec --pid PID [--cwd DIR] [--env K=V]... -- COMMAND [ARG]...";

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let code = match args.first().map(String::as_str) {
        Some("run") if args.len() == 2 => run_main(Path::new(&args[1])),
        // Started once by berthd: starts the shims (see berth_runtime::spawner).
        Some("spawner") if args.len() == 2 => {
            berth_runtime::spawner::spawner_main(Path::new(&args[1]))
        }
        Some("exec") => match ExecOptions::parse(&args[1..]) {
            Ok(opts) => exec_main(&opts),
            Err(e) => {
                eprintln!("berth-shim exec: {e}");
                2
            }
        },
        _ => {
            eprintln!("{USAGE}");
            2
        }
    };
    std::process::exit(code);
}

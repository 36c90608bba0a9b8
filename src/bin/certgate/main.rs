//! `certgate`: the command-line face of the gateway. Holds no logic of its own; each
//! subcommand parses its arguments and calls the library.

/// `println!` for a command's output, except that a reader gone away (`certgate trust ls
/// | head`) ends the process quietly instead of with the panic `println!` raises.
macro_rules! outln {
    () => {
        crate::write_out(format_args!("\n"))
    };
    ($($arg:tt)*) => {
        crate::write_out(format_args!("{}\n", format_args!($($arg)*)))
    };
}

/// [`outln!`] without the newline.
macro_rules! out {
    ($($arg:tt)*) => {
        crate::write_out(format_args!($($arg)*))
    };
}

mod allocator;
mod cert_inspect;
mod cert_verify;
mod check;
mod demo;
mod deployment_args;
mod eval;
mod invoke;
mod serve;
mod trust;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "certgate",
    version,
    about = "APIM client-certificate policies, anywhere"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Inspect and verify certificates as a policy sees them.
    #[command(subcommand)]
    Cert(CertCommand),
    /// Evaluate one policy expression against a request.
    Eval(eval::Args),
    /// Load and compile a deployment (folder or S3 prefix); print what is wrong or what loaded.
    Check(check::Args),
    /// Run one Lambda event through the pipeline; print the function's response.
    Invoke(invoke::Args),
    /// Serve a deployment (folder or S3 prefix) over HTTPS on this machine, reloading it when
    /// it changes.
    Serve(serve::Args),
    /// Generate a demo PKI and deployment, serve it, and print curl commands to try.
    Demo(demo::Args),
    /// Manage the trust bucket: push a deployment folder to S3, list it, pull it back.
    #[command(subcommand)]
    Trust(trust::Command),
}

#[derive(Subcommand)]
enum CertCommand {
    /// Print every property a policy can read from a certificate.
    Inspect(cert_inspect::Args),
    /// Run Verify() (or VerifyNoRevocation()) against a deployment's trust store.
    Verify(cert_verify::Args),
}

#[global_allocator]
static ALLOCATOR: allocator::MiMalloc = allocator::MiMalloc;

/// Writes a command's output; a closed pipe ends the process with the status a shell
/// reports for a command stopped by SIGPIPE (141), any other failure with 2.
fn write_out(text: std::fmt::Arguments<'_>) {
    use std::io::Write as _;
    if let Err(error) = std::io::stdout().lock().write_fmt(text) {
        if error.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(141);
        }
        eprintln!("error: cannot write the output: {error}");
        std::process::exit(2);
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Cert(CertCommand::Inspect(args)) => cert_inspect::run(args),
        Command::Cert(CertCommand::Verify(args)) => cert_verify::run(args),
        Command::Eval(args) => eval::run(args),
        Command::Check(args) => check::run(args),
        Command::Invoke(args) => invoke::run(args),
        Command::Trust(command) => trust::run(command),
        Command::Serve(args) => serve::run(args),
        Command::Demo(args) => demo::run(args),
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(2)
        }
    }
}

//! `certgate demo`: generates a PKI and a deployment, starts an echo backend, serves
//! the deployment on loopback and prints the curl commands that show each outcome.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use certgate::demo::{self, DemoLayout, DemoPki, EchoBackend};
use certgate::frontend::local::LocalGateway;
use certgate::frontend::tls::Limits;
use time::OffsetDateTime;

use crate::serve::{init_logging, runtime, shutdown_signal};

/// How often the demo reloads its deployment folder.
const RELOAD: Duration = Duration::from_secs(2);

#[derive(clap::Args)]
pub(crate) struct Args {
    /// Address and port to listen on (port 0: any free port).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8443")]
    listen: SocketAddr,
    /// Where to write the deployment and the client certificates; rewritten at each
    /// run (a folder the demo did not create is refused).
    #[arg(long, value_name = "DIR", default_value = "certgate-demo")]
    dir: PathBuf,
}

pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    let _log = init_logging();
    std::fs::create_dir_all(&args.dir)
        .with_context(|| format!("cannot create {}", args.dir.display()))?;
    let root = std::fs::canonicalize(&args.dir)
        .with_context(|| format!("cannot resolve {}", args.dir.display()))?;
    runtime()?.block_on(async move {
        let backend = EchoBackend::start()
            .await
            .context("cannot start the echo backend")?;
        let pki = DemoPki::generate(OffsetDateTime::now_utc())?;
        let layout = demo::write(&root, &pki, &backend.url())?;
        let gateway = LocalGateway::open(&layout.deployment.to_string_lossy(), Limits::default())
            .await
            .context("the demo deployment does not load")?;
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .with_context(|| {
                format!(
                    "cannot listen on {} (try --listen 127.0.0.1:0)",
                    args.listen
                )
            })?;
        let addr = listener.local_addr()?;
        let shutdown = shutdown_signal();
        out!("{}", intro(&layout, addr, &backend));
        gateway.serve(listener, Some(RELOAD), shutdown).await?;
        drop(backend);
        Ok(ExitCode::SUCCESS)
    })
}

fn intro(layout: &DemoLayout, addr: SocketAddr, backend: &EchoBackend) -> String {
    let mut out = format!(
        "\ncertgate demo: serving https://{addr}\n\n  \
         deployment    {}\n  \
         client files  {}\n  \
         echo backend  {} (the API's backend, in-process)\n\n\
         Every request runs policies/global.xml, the APIM article's policy: the certificate \
         must chain to ca/, not be revoked by crl/, and be uploaded under certificates/. \
         Over HTTP/1.1 (add --http1.1) a refusal shows the policy's reason phrase: \
         403 Invalid client certificate.\n\n\
         Try it:\n\n",
        layout.deployment.display(),
        layout.client.display(),
        backend.url(),
    );
    for example in demo::examples(layout, addr) {
        out.push_str(&format!(
            "# {}: expect {} ({})\n{}\n\n",
            example.title, example.status, example.note, example.command
        ));
    }
    out.push_str(&format!(
        "Edit {}/policies/*.xml while this runs: changes apply within {} s.\n\
         Press Ctrl-C to stop.\n",
        layout.deployment.display(),
        RELOAD.as_secs()
    ));
    out
}

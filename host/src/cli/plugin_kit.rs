//! `switchboard plugin new | build | test | wit`: the plugin author's commands, on
//! top of `crate::kit`. They touch no database: `test` loads the component
//! in a runtime of its own, with the server's default call limits.
//!
//! Exit codes: 0 done (every case passed), 1 refused or a case failed, 2 the
//! command could not run.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;

use crate::config::HostConfig;
use crate::kit::build_cache::BuildCache;
use crate::kit::cargo::{self, BuildError};
use crate::kit::conformance::{self, CaseOutcome, KitConfig, PluginSummary, Progress, Report};
use crate::kit::fixtures::Fixtures;
use crate::kit::polyglot::{self, Language, PolyglotError};
use crate::kit::scaffold::{self, NewPlugin, ScaffoldError, SdkSource};
use crate::runtime::{Runtime, RuntimeConfig};

/// `plugin new --lang`.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum Lang {
    /// A cargo crate.
    Rust,
    /// A Python project built by componentize-py.
    Python,
    /// A JavaScript project built by componentize-js.
    Js,
}

/// The plugin author's commands.
#[derive(Debug, clap::Subcommand)]
pub enum AuthorCommand {
    /// Create a plugin crate: a signed-webhook channel with fixtures that
    /// `switchboard plugin test` passes as it is.
    New {
        /// Plugin id, also its webhook path `/webhooks/NAME`: a-z, 0-9 and
        /// '-', starting with a letter (e.g. `acme-chat`).
        name: String,
        /// Folder to create (default: ./NAME); it must not exist or be empty.
        #[arg(long)]
        dir: Option<PathBuf>,
        /// Depend on the SDK in this folder (the `sdk/` of a Switchboard
        /// checkout). Default: $SWITCHBOARD_SDK_PATH, else the `sdk/` of the
        /// checkout this binary was built from.
        #[arg(long, value_name = "PATH", conflicts_with = "sdk_git")]
        sdk: Option<PathBuf>,
        /// Depend on the SDK from this git repository (the Switchboard
        /// repository's URL).
        #[arg(long, value_name = "URL")]
        sdk_git: Option<String>,
        /// The language: `rust` (a cargo crate), `python` (componentize-py)
        /// or `js` (componentize-js).
        #[arg(long, value_enum, default_value = "rust")]
        lang: Lang,
    },
    /// Build a plugin crate into a component (`cargo build --target
    /// wasm32-wasip2`) and print the `.wasm` path.
    Build {
        /// The plugin crate (default: the current folder).
        dir: Option<PathBuf>,
        /// Cargo profile.
        #[arg(long, default_value = "release")]
        profile: String,
    },
    /// Test a component as a server would run it: its self-description,
    /// recorded webhooks and sends (`--fixtures`), and the host's limits.
    /// Exits 1 when a case fails.
    Test {
        /// The component (`.wasm`).
        file: PathBuf,
        /// Folder of fixtures: `webhooks/*.json` and `send/*.json`.
        #[arg(long, value_name = "DIR")]
        fixtures: Option<PathBuf>,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
        /// The largest webhook body the server accepts; the limit cases send
        /// bodies this large.
        #[arg(
            long,
            env = "SWITCHBOARD_WEBHOOK_MAX_BYTES",
            default_value_t = crate::app::PipelineConfig::default().webhook_max_bytes
        )]
        webhook_max_bytes: usize,
    },
    /// Write the contract's WIT (the interface a plugin implements) into a
    /// folder, for toolchains that generate bindings from it
    /// (componentize-py, componentize-js, wit-bindgen).
    Wit {
        /// Folder to write into (created if needed).
        #[arg(long, default_value = "wit")]
        out: PathBuf,
        /// Contract version (default: the newest this binary supports).
        #[arg(long, default_value = crate::kit::wit::LATEST)]
        version: String,
    },
}

pub async fn run(config: &HostConfig, command: AuthorCommand) -> anyhow::Result<ExitCode> {
    match command {
        AuthorCommand::New {
            name,
            dir,
            sdk,
            sdk_git,
            lang,
        } => new(name, dir, sdk, sdk_git, lang),
        AuthorCommand::Build { dir, profile } => {
            let dir = dir.unwrap_or_else(|| PathBuf::from("."));
            tokio::task::spawn_blocking(move || build(dir, &profile)).await?
        }
        AuthorCommand::Test {
            file,
            fixtures,
            json,
            webhook_max_bytes,
        } => test(config, file, fixtures, json, webhook_max_bytes).await,
        AuthorCommand::Wit { out, version } => {
            let files = crate::kit::wit::write(&version, &out)?;
            eprintln!(
                "wrote contract {version} (world {}) to {}:",
                crate::kit::wit::world(&version).unwrap_or_default(),
                out.display()
            );
            for file in files {
                println!("{}", file.display());
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn new(
    name: String,
    dir: Option<PathBuf>,
    sdk: Option<PathBuf>,
    sdk_git: Option<String>,
    lang: Lang,
) -> anyhow::Result<ExitCode> {
    let style = Style::for_stream(std::io::stdout().is_terminal());
    if let Err(refused) = scaffold::check_name(&name) {
        eprintln!("error: {refused}");
        return Ok(ExitCode::from(1));
    }
    let lang = match lang {
        Lang::Rust => Language::Rust,
        Lang::Python => Language::Python,
        Lang::Js => Language::JavaScript,
    };
    let sdk = match lang {
        Language::Rust => sdk_source(sdk, sdk_git)?,
        // The Python helpers are copied into the project from the binary.
        _ => SdkSource::Git("(bundled)".into()),
    };
    let dir = dir.unwrap_or_else(|| PathBuf::from(&name));
    let plugin = NewPlugin {
        id: name,
        dir,
        sdk,
        lang,
    };
    let created = match scaffold::create(&plugin) {
        Ok(created) => created,
        Err(e @ ScaffoldError::Io { .. }) => return Err(e.into()),
        Err(refused) => {
            eprintln!("error: {refused}");
            return Ok(ExitCode::from(1));
        }
    };
    let shown = created.dir.display();
    let sdk = match lang {
        Language::Rust => plugin.sdk.to_string(),
        Language::Python => "switchboard_sdk.py, bundled".into(),
        Language::JavaScript => "src/switchboard.js, bundled".into(),
    };
    println!(
        "{} plugin {} in {shown} (SDK: {sdk})",
        style.green("created"),
        style.bold(&plugin.id),
    );
    for file in &created.files {
        println!("  {}", style.dim(file));
    }
    println!("\nnext:");
    println!("  cd {shown}");
    println!("  switchboard plugin build");
    println!(
        "  switchboard plugin test {} --fixtures fixtures",
        created.component
    );
    println!(
        "\nsettings are read from {prefix}_WEBHOOK_SECRET, {prefix}_API_TOKEN and {prefix}_API_BASE on the \
         server (`switchboard config set {prefix}_WEBHOOK_SECRET …`)",
        prefix = created.env_prefix
    );
    Ok(ExitCode::SUCCESS)
}

/// `--sdk-git`, else `--sdk`, else `$SWITCHBOARD_SDK_PATH`, else the checkout
/// this binary was built from.
fn sdk_source(sdk: Option<PathBuf>, sdk_git: Option<String>) -> anyhow::Result<SdkSource> {
    if let Some(url) = sdk_git {
        return Ok(SdkSource::Git(url));
    }
    let path = sdk.or_else(|| {
        std::env::var_os("SWITCHBOARD_SDK_PATH")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    });
    match path {
        // Absolute, because the new crate lives elsewhere.
        Some(path) => std::fs::canonicalize(&path)
            .map(SdkSource::Path)
            .with_context(|| format!("the SDK folder {}", path.display())),
        None => SdkSource::from_build_checkout().context(
            "cannot find the Switchboard SDK (this binary was not built from a checkout that is still \
             there): pass --sdk PATH (the sdk/ folder of a checkout) or --sdk-git URL (the Switchboard \
             repository)",
        ),
    }
}

fn build(dir: PathBuf, profile: &str) -> anyhow::Result<ExitCode> {
    // A missing toolchain cannot be fixed in the project: exit 2, as any
    // command that could not run; a failed build is the author's: exit 1.
    let built = match Language::of(&dir) {
        Some(lang @ (Language::Python | Language::JavaScript)) => {
            // Beside the compiled-code cache: `~/.cache/switchboard/builds`.
            let cache =
                super::author_cache().map(|components| BuildCache::new(components.with_file_name("builds")));
            polyglot::build(&dir, lang, cache.as_ref())
                .map(|built| {
                    if let Some(entry) = &built.reused {
                        eprintln!(
                            "up to date: the same sources, WIT and toolchain were built before; \
                             reusing {} (componentize did not run)",
                            entry.display()
                        );
                    }
                    built.path
                })
                .map_err(|e| (matches!(e, PolyglotError::Missing { .. }), e.to_string()))
        }
        _ => cargo::build(&dir, profile)
            .map_err(|e| (matches!(e, BuildError::NoToolchain { .. }), e.to_string())),
    };
    match built {
        Ok(component) => {
            let size = std::fs::metadata(&component).map(|m| m.len()).unwrap_or(0);
            let style = Style::for_stream(std::io::stderr().is_terminal());
            eprintln!(
                "{} {} ({} KiB); test it with `switchboard plugin test {} --fixtures {}`",
                style.green("built"),
                component.display(),
                size.div_ceil(1024),
                component.display(),
                dir.join("fixtures").display()
            );
            // The path alone on stdout, for scripts.
            println!("{}", component.display());
            Ok(ExitCode::SUCCESS)
        }
        Err((true, missing)) => Err(anyhow::anyhow!(missing)),
        Err((false, failed)) => {
            eprintln!("error: {failed}");
            Ok(ExitCode::from(1))
        }
    }
}

async fn test(
    config: &HostConfig,
    file: PathBuf,
    fixtures: Option<PathBuf>,
    json: bool,
    webhook_max_bytes: usize,
) -> anyhow::Result<ExitCode> {
    let bytes = std::fs::read(&file).with_context(|| format!("cannot read {}", file.display()))?;
    let fixtures = fixtures.map(|dir| Fixtures::load(&dir)).transpose()?;
    let runtime = Runtime::new(RuntimeConfig {
        cache_dir: super::author_cache(),
        ..config.runtime()
    })
    .context("starting the WebAssembly runtime")?;
    let style = Style::for_stream(std::io::stdout().is_terminal());
    let started = Instant::now();
    if !json {
        println!("{} {}", style.bold("testing"), file.display());
    }
    let kit = KitConfig {
        egress: config.egress(),
        webhook_max_bytes,
    };
    let report = conformance::run(&runtime, bytes, fixtures.as_ref(), kit, &mut |progress| {
        if !json {
            print_progress(&style, progress);
        }
    })
    .await
    .context("starting the kit's mock provider")?;
    if json {
        super::super::print_json(&report)?;
    } else {
        print_summary(
            &style,
            &report,
            fixtures.is_some(),
            started.elapsed().as_secs_f64(),
        );
    }
    Ok(if report.failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// Width of the case-name column.
const NAME_WIDTH: usize = 34;

fn print_progress(style: &Style, progress: Progress<'_>) {
    match progress {
        Progress::Loaded(plugin) => print_loaded(style, plugin),
        Progress::Case(case) => print_case(style, case),
    }
}

fn print_loaded(style: &Style, plugin: &PluginSummary) {
    println!(
        "  {}",
        style.dim(&format!(
            "calls run under the server's limits ({} ms, {} MiB); outbound HTTP reaches only the mock \
             provider {{{{mock_url}}}} = {}",
            plugin.timeout_ms,
            plugin.memory_limit_bytes >> 20,
            plugin.mock_url
        ))
    );
}

fn print_case(style: &Style, case: &CaseOutcome) {
    let mark = if case.passed {
        style.green("✔")
    } else {
        style.red("✘")
    };
    let name = format!("{:<width$}", case.name, width = NAME_WIDTH);
    let name = if case.passed { name } else { style.red(&name) };
    let note = case
        .note
        .as_deref()
        .map(|n| format!("  {}", style.dim(n)))
        .unwrap_or_default();
    println!(
        "{mark} {name} {}{note}",
        style.dim(&format!("{:>8}", conformance::format_ms(case.ms)))
    );
    if case.passed {
        return;
    }
    if let Some(description) = &case.description {
        println!("    {}", style.dim(description));
    }
    for detail in &case.details {
        for line in detail.lines() {
            println!("    {line}");
        }
    }
}

fn print_summary(style: &Style, report: &Report, had_fixtures: bool, seconds: f64) {
    if !had_fixtures && report.plugin.is_some() {
        println!(
            "  {}",
            style.dim("no --fixtures: only the self-description and the limits were checked")
        );
    }
    let passed = format!("{} passed", report.passed);
    let failed = format!("{} failed", report.failed);
    let line = format!("{passed}, {failed} ({seconds:.2} s)");
    println!(
        "\n{}",
        if report.failed == 0 {
            style.green(&line)
        } else {
            style.red(&style.bold(&line))
        }
    );
}

/// Colours, only for a terminal and never with NO_COLOR set
/// (https://no-color.org); CLICOLOR_FORCE forces them (e.g. in CI logs).
struct Style {
    color: bool,
}

impl Style {
    fn for_stream(is_terminal: bool) -> Self {
        let set = |name| std::env::var_os(name).is_some_and(|v| !v.is_empty() && v != "0");
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        Self {
            color: !no_color && (is_terminal || set("CLICOLOR_FORCE")),
        }
    }

    fn paint(&self, code: &str, text: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_owned()
        }
    }

    fn green(&self, text: &str) -> String {
        self.paint("32", text)
    }

    fn red(&self, text: &str) -> String {
        self.paint("31", text)
    }

    fn bold(&self, text: &str) -> String {
        self.paint("1", text)
    }

    fn dim(&self, text: &str) -> String {
        self.paint("2", text)
    }
}

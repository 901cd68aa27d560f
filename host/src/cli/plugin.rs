//! `switchboard plugin …`: the admin's plugin commands, and the plugin
//! author's (`new`, `build`, `test`, in `plugin_kit.rs`; the `kit` feature).
//! The admin's write to the database directly, so they work whether or not a
//! server runs; running servers pick each change up within their sync
//! interval. The author's touch no database.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;

use crate::config::HostConfig;
use crate::contract::IncomingRequest;
use crate::plugin_host::admin::{self, AdminError, PluginInfo};

// The author's commands live beside the admin's, in their own file; they
// are the `kit` feature (on by default).
#[cfg(feature = "kit")]
#[path = "plugin_kit.rs"]
mod kit;

/// Plugin commands: the admin's, then the plugin author's.
#[derive(Debug, clap::Subcommand)]
pub enum PluginCommand {
    /// Managing installed plugins.
    #[command(flatten)]
    Admin(AdminCommand),
    /// Writing plugins.
    #[cfg(feature = "kit")]
    #[command(flatten)]
    Author(kit::AuthorCommand),
}

/// The admin's commands on installed plugins.
#[derive(Debug, clap::Subcommand)]
pub enum AdminCommand {
    /// Validate and install a plugin from a `.wasm` component file.
    Install {
        /// The component file.
        file: PathBuf,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Replace an installed plugin with a new build of it.
    Upgrade {
        /// The component file (its manifest names the plugin).
        file: PathBuf,
        /// Allow installing a lower version than the current one.
        #[arg(long)]
        allow_downgrade: bool,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// List installed plugins.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show one plugin in full.
    Show {
        /// Plugin id.
        name: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Route calls to a plugin again.
    Enable {
        /// Plugin id.
        name: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Stop routing calls to a plugin (it stays installed).
    Disable {
        /// Plugin id.
        name: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Uninstall a plugin. Refused while inboxes use it, unless forced.
    Remove {
        /// Plugin id.
        name: String,
        /// Remove even though inboxes use it.
        #[arg(long)]
        force: bool,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Allow a plugin to call an extra origin (e.g. `http://127.0.0.1:8080`).
    /// Only a grant can open private and loopback addresses.
    GrantHost {
        /// Plugin id.
        name: String,
        /// Origin: scheme://host[:port].
        origin: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Withdraw an origin granted earlier.
    RevokeHost {
        /// Plugin id.
        name: String,
        /// Origin: scheme://host[:port].
        origin: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Set a plugin's per-call limits (0 restores the default).
    Limits {
        /// Plugin id.
        name: String,
        /// Deadline per call, in milliseconds.
        #[arg(long)]
        timeout_ms: Option<u64>,
        /// Memory cap per call, in MiB.
        #[arg(long)]
        memory_mib: Option<u64>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Run verify-webhook and parse-event on a request, storing nothing.
    Call {
        /// Plugin id.
        name: String,
        /// Request body (text).
        #[arg(long, conflicts_with = "body_file")]
        body: Option<String>,
        /// Request body from a file.
        #[arg(long)]
        body_file: Option<PathBuf>,
        /// A header, `Name: value` (repeatable).
        #[arg(long = "header", short = 'H')]
        headers: Vec<String>,
        /// Raw query string.
        #[arg(long, default_value = "")]
        query: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// Where the plugin author's commands cache compiled components between
/// runs: the user's cache folder (never a shared one such as /tmp: the
/// runtime loads native code from it).
fn author_cache() -> Option<PathBuf> {
    let nonempty = |name| {
        std::env::var_os(name)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    nonempty("XDG_CACHE_HOME")
        .or_else(|| nonempty("HOME").map(|home| home.join(".cache")))
        .map(|cache| cache.join("switchboard").join("components"))
}

/// Installing a component that `plugin test` just ran: its compiled code is
/// in the author's cache, and copying it into the server's saves compiling
/// it again (seconds for a Python or JavaScript component).
fn reuse_tested(host: &crate::plugin_host::PluginHost, bytes: &[u8]) {
    if let Some(dir) = author_cache()
        && host.runtime().adopt_cached(&dir, bytes)
    {
        eprintln!(
            "reusing the compiled code `switchboard plugin test` cached in {}",
            dir.display()
        );
    }
}

pub async fn run(config: &HostConfig, command: PluginCommand) -> anyhow::Result<ExitCode> {
    match command {
        PluginCommand::Admin(command) => run_admin(config, command).await,
        #[cfg(feature = "kit")]
        PluginCommand::Author(command) => kit::run(config, command).await,
    }
}

async fn run_admin(config: &HostConfig, command: AdminCommand) -> anyhow::Result<ExitCode> {
    let (_, host) = super::open(config).await?;
    let outcome = match command {
        AdminCommand::Install { file, json } => {
            let bytes = read(&file)?;
            reuse_tested(&host, &bytes);
            admin::install(&host, bytes, false)
                .await
                .map(|info| report(&info, json, "installed"))
        }
        AdminCommand::Upgrade {
            file,
            allow_downgrade,
            json,
        } => {
            let bytes = read(&file)?;
            reuse_tested(&host, &bytes);
            admin::upgrade(&host, None, bytes, allow_downgrade)
                .await
                .map(|info| report(&info, json, "upgraded"))
        }
        AdminCommand::List { json } => admin::list(&host, false).await.map(|list| {
            if json {
                let _ = super::print_json(&list);
            } else {
                print_table(&list);
            }
        }),
        AdminCommand::Show { name, json } => admin::show(&host, &name, false).await.map(|info| {
            if json {
                let _ = super::print_json(&info);
            } else {
                print_details(&info);
            }
        }),
        AdminCommand::Enable { name, json } => admin::set_enabled(&host, &name, true)
            .await
            .map(|info| report(&info, json, "enabled")),
        AdminCommand::Disable { name, json } => admin::set_enabled(&host, &name, false)
            .await
            .map(|info| report(&info, json, "disabled")),
        AdminCommand::Remove { name, force, json } => admin::remove(&host, &name, force).await.map(|()| {
            if json {
                let _ = super::print_json(&serde_json::json!({ "removed": name }));
            } else {
                println!("removed plugin {name}");
            }
        }),
        AdminCommand::GrantHost { name, origin, json } => admin::grant_host(&host, &name, &origin)
            .await
            .map(|info| report(&info, json, "granted a host to")),
        AdminCommand::RevokeHost { name, origin, json } => admin::revoke_host(&host, &name, &origin)
            .await
            .map(|info| report(&info, json, "revoked a host of")),
        AdminCommand::Limits {
            name,
            timeout_ms,
            memory_mib,
            json,
        } => admin::set_limits(&host, &name, timeout_ms, memory_mib)
            .await
            .map(|info| report(&info, json, "set limits of")),
        AdminCommand::Call {
            name,
            body,
            body_file,
            headers,
            query,
            json,
        } => {
            let body = match (body, body_file) {
                (Some(text), _) => text.into_bytes(),
                (None, Some(path)) => read(&path)?,
                (None, None) => Vec::new(),
            };
            let headers = headers
                .iter()
                .map(|h| {
                    h.split_once(':')
                        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
                        .with_context(|| format!("header {h:?} is not `Name: value`"))
                })
                .collect::<anyhow::Result<Vec<_>>>()?;
            host.sync().await?;
            let request = IncomingRequest {
                method: "POST".into(),
                path: format!("/webhooks/{name}"),
                query,
                headers,
                body,
            };
            admin::dry_run_webhook(&host, &name, request).await.map(|result| {
                if json {
                    let _ = super::print_json(&result);
                } else {
                    println!("verification: {:?}", result.verification);
                    for event in result.events.iter().flatten() {
                        println!("event: {}", serde_json::to_string(event).unwrap_or_default());
                    }
                }
            })
        }
    };
    match outcome {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(AdminError::Store(e)) => Err(e.into()),
        Err(AdminError::Plugin(e @ crate::runtime::PluginError::Host { .. })) => Err(e.into()),
        Err(refused) => {
            eprintln!("error: {refused}");
            Ok(ExitCode::from(1))
        }
    }
}

fn read(path: &PathBuf) -> anyhow::Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))
}

fn report(info: &PluginInfo, json: bool, verb: &str) {
    if json {
        let _ = super::print_json(info);
    } else {
        println!(
            "{verb} plugin {} {} (sha256 {}); running servers apply it within a second",
            info.id,
            info.version,
            &info.sha256[..12]
        );
    }
}

fn print_table(list: &[PluginInfo]) {
    if list.is_empty() {
        println!("no plugins installed");
        return;
    }
    println!(
        "{:<16} {:<10} {:<8} {:<8} {:<12} HOSTS",
        "ID", "VERSION", "ENABLED", "BUNDLED", "SHA256"
    );
    for p in list {
        let hosts: Vec<&str> = p
            .declared_hosts
            .iter()
            .chain(p.granted_hosts.iter())
            .map(String::as_str)
            .collect();
        println!(
            "{:<16} {:<10} {:<8} {:<8} {:<12} {}",
            p.id,
            p.version,
            if p.enabled { "yes" } else { "no" },
            if p.bundled { "yes" } else { "no" },
            &p.sha256[..12],
            hosts.join(" ")
        );
    }
    for p in list.iter().filter(|p| p.health != "healthy") {
        let why = p
            .disabled_reason
            .as_deref()
            .or(p.last_fault.as_deref())
            .unwrap_or("");
        println!("{} is {}: {why}", p.id, p.health);
    }
}

fn print_details(p: &PluginInfo) {
    println!("{} ({}) {}", p.name, p.id, p.version);
    println!("  {}", p.manifest.description);
    println!("  contract:       switchboard:channel@{}", p.contract_version);
    println!("  sha256:         {}", p.sha256);
    println!("  enabled:        {}", p.enabled);
    println!("  bundled:        {}", p.bundled);
    println!(
        "  limits:         {} ms, {} MiB per call",
        p.timeout_ms,
        p.memory_limit_bytes >> 20
    );
    println!("  declared hosts: {}", p.declared_hosts.join(", "));
    println!(
        "  granted hosts:  {}",
        if p.granted_hosts.is_empty() {
            "-".into()
        } else {
            p.granted_hosts.join(", ")
        }
    );
    for s in &p.manifest.settings {
        println!(
            "  setting {:<14} {}{}{}",
            s.key,
            s.description,
            if s.required { " (required)" } else { "" },
            if s.secret { " (secret)" } else { "" }
        );
    }
    if !p.missing_settings.is_empty() {
        println!(
            "  missing:        {} (required; its calls fail until set: `switchboard config set {} VALUE`)",
            p.missing_settings.join(", "),
            p.missing_settings[0]
        );
    }
    if let Some(error) = &p.load_error {
        println!("  load error:     {error}");
    }
    println!(
        "  health:         {} ({} faults in a row)",
        p.health, p.faults_in_row
    );
    if let Some(fault) = &p.last_fault {
        println!("  last fault:     {fault}");
    }
    if let Some(reason) = &p.disabled_reason {
        println!("  disabled:       {reason}");
    }
}

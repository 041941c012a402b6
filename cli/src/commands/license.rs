//! `ringside license keygen|issue|inspect|show|apply`: vendor keys and
//! licenses on the command line, and a cluster's license through its
//! coordinator (`/api/v1/license`).

use std::{
    io::Write,
    path::{Path, PathBuf},
};

use anyhow::{Context, anyhow, bail};
use chrono::{DateTime, TimeDelta, Utc};
use ringside_api::license::{ApplyLicense, LicenseStatus};
use ringside_config::{SiteConfig, keys, units::format_size};
use ringside_license::{License, LicenseKind, Limits, PublicKey, VendorKey};

use crate::args::{Format, IssueArgs, LicenseCommand, LicenseKindArg};
use crate::client::Coordinator;

pub async fn run(
    command: LicenseCommand,
    site: &SiteConfig,
    coordinator: impl FnOnce() -> anyhow::Result<Coordinator>,
) -> anyhow::Result<()> {
    match command {
        LicenseCommand::Keygen { out, force } => keygen(&out, force),
        LicenseCommand::Issue(args) => issue(args),
        LicenseCommand::Inspect {
            file,
            public_key,
            format,
        } => inspect(&file, public_key.as_deref(), site, format.format),
        LicenseCommand::Show(format) => show(&coordinator()?, format.format).await,
        LicenseCommand::Apply { file, format } => {
            apply(&coordinator()?, &file, format.format).await
        }
    }
}

/// Where the public key of key file `out` goes: the same name, `.pub`.
fn public_key_path(out: &Path) -> anyhow::Result<PathBuf> {
    let path = out.with_extension("pub");
    if path == out {
        bail!(
            "{}: the secret key file cannot end in .pub, which is where its public key goes: expected a name such as vendor.key",
            out.display()
        );
    }
    Ok(path)
}

fn keygen(out: &Path, force: bool) -> anyhow::Result<()> {
    let public_path = public_key_path(out)?;
    if !force {
        for path in [out, public_path.as_path()] {
            if path.exists() {
                bail!(
                    "{} already exists: expected a new file, or --force to replace it",
                    path.display()
                );
            }
        }
    }
    let key = VendorKey::generate().map_err(|e| anyhow!("no random source for the key: {e}"))?;
    write_secret(out, key.to_file_text().as_bytes())
        .with_context(|| format!("cannot write {}", out.display()))?;
    let public = key.public_key().to_base64();
    std::fs::write(&public_path, format!("{public}\n"))
        .with_context(|| format!("cannot write {}", public_path.display()))?;
    println!(
        "wrote {} (secret: keep it safe, mode 0600) and {}",
        out.display(),
        public_path.display()
    );
    println!("ringside.license.verification.key={public}");
    Ok(())
}

/// Writes a file only its owner can read, whatever the umask.
fn write_secret(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    // An existing file (--force) keeps its mode unless set again.
    file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    file.write_all(bytes)?;
    file.sync_all()
}

fn read_text(path: &Path, what: &str) -> anyhow::Result<String> {
    std::fs::read_to_string(path).map_err(|e| anyhow!("cannot read {what} {}: {e}", path.display()))
}

fn issue(args: IssueArgs) -> anyhow::Result<()> {
    let key = VendorKey::from_file_text(&read_text(&args.key, "the vendor key file")?)
        .with_context(|| args.key.display().to_string())?;
    let issued_at = args.issued.unwrap_or_else(|| whole_seconds(Utc::now()));
    let expires_at = match (args.expires, args.days) {
        (Some(at), _) => at,
        (None, Some(days)) => issued_at + TimeDelta::days(i64::from(days)),
        // clap requires one of them.
        (None, None) => bail!("expected --expires DATE or --days N"),
    };
    let id = args.id.unwrap_or_else(|| {
        let random = uuid::Uuid::new_v4().simple().to_string();
        format!("L-{}-{}", issued_at.format("%Y%m%d"), &random[..8])
    });
    let license = License {
        id,
        customer: args.customer,
        kind: match args.kind {
            LicenseKindArg::Cluster => LicenseKind::Cluster,
            LicenseKindArg::Deployment => LicenseKind::Deployment,
        },
        clusters: args.clusters,
        issued_at,
        expires_at,
        limits: Limits {
            max_workers: args.max_workers,
            max_capacity_bytes: args.max_capacity,
        },
        features: args.features,
        ..License::default()
    };
    let token = key.sign(&license)?;
    match &args.out {
        Some(path) => std::fs::write(path, format!("{token}\n"))
            .with_context(|| format!("cannot write {}", path.display()))?,
        None => println!("{token}"),
    }
    eprintln!(
        "issued license {} for {}: {} license for {}, {} to {}, {}{}",
        license.id,
        license.customer,
        license.kind,
        license.clusters.join(", "),
        day(&license.issued_at),
        day(&license.expires_at),
        license.limits_text(),
        args.out
            .as_ref()
            .map(|p| format!(", written to {}", p.display()))
            .unwrap_or_default()
    );
    if license.expires_at <= Utc::now() {
        eprintln!(
            "note: license {} is already expired ({})",
            license.id,
            day(&license.expires_at)
        );
    }
    Ok(())
}

/// Whether a license's signature was checked, and how that went.
enum Signature {
    Valid(PublicKey),
    Invalid(String),
    NotChecked,
}

fn inspect(
    file: &Path,
    public_key: Option<&Path>,
    site: &SiteConfig,
    format: Format,
) -> anyhow::Result<()> {
    let token = read_text(file, "the license file")?;
    let license = ringside_license::decode_unverified(&token)
        .with_context(|| format!("{} is not a license", file.display()))?;
    let key = match public_key {
        Some(path) => Some(
            PublicKey::parse(&read_text(path, "the public key file")?)
                .with_context(|| path.display().to_string())?,
        ),
        None => site
            .get(keys::LICENSE_VERIFICATION_KEY)
            .map(|text| PublicKey::parse(&text))
            .transpose()
            .context(keys::LICENSE_VERIFICATION_KEY.name())?,
    };
    let signature = match key {
        None => Signature::NotChecked,
        Some(key) => match ringside_license::verify(&token, &key) {
            Ok(_) => Signature::Valid(key),
            Err(e) => Signature::Invalid(e.to_string()),
        },
    };
    let grace = TimeDelta::from_std(site.get(keys::LICENSE_GRACE_PERIOD)).unwrap_or(TimeDelta::MAX);
    let evaluation = ringside_license::evaluate_at(&license, Utc::now(), grace);
    match format {
        Format::Json => {
            let (status, error) = match &signature {
                Signature::Valid(_) => ("valid", None),
                Signature::Invalid(e) => ("invalid", Some(e.clone())),
                Signature::NotChecked => ("not_checked", None),
            };
            let json = serde_json::json!({
                "license": license,
                "state": evaluation.state.as_str(),
                "message": evaluation.describe(&license),
                "days_left": evaluation.days_left,
                "grace_ends_at": evaluation.grace_ends_at,
                "signature": status,
                "signature_error": error,
            });
            println!("{}", serde_json::to_string_pretty(&json)?);
        }
        Format::Text => {
            let limit = |v: Option<String>| v.unwrap_or_else(|| "unlimited".into());
            let rows = [
                ("id", license.id.clone()),
                ("customer", license.customer.clone()),
                ("kind", license.kind.to_string()),
                ("clusters", license.clusters.join(", ")),
                ("issued", license.issued_at.to_rfc3339()),
                (
                    "expires",
                    format!(
                        "{} ({})",
                        license.expires_at.to_rfc3339(),
                        days_left(evaluation.days_left)
                    ),
                ),
                ("grace ends", evaluation.grace_ends_at.to_rfc3339()),
                ("state", evaluation.state.as_str().to_string()),
                ("max workers", limit(license.limits.max_workers.map(|n| n.to_string()))),
                (
                    "max capacity",
                    limit(license.limits.max_capacity_bytes.map(format_size)),
                ),
                (
                    "features",
                    if license.features.is_empty() {
                        "none".into()
                    } else {
                        license.features.join(", ")
                    },
                ),
                (
                    "signature",
                    match &signature {
                        Signature::Valid(key) => format!("valid (key {key})"),
                        Signature::Invalid(e) => format!("INVALID: {e}"),
                        Signature::NotChecked => {
                            "not checked: give --public-key FILE or set ringside.license.verification.key".into()
                        }
                    },
                ),
            ];
            for (name, value) in rows {
                println!("{:<14}{value}", format!("{name}:"));
            }
            println!("{}", evaluation.describe(&license));
        }
    }
    if let Signature::Invalid(e) = signature {
        bail!("{}: {e}", file.display());
    }
    Ok(())
}

async fn show(coordinator: &Coordinator, format: Format) -> anyhow::Result<()> {
    let status: LicenseStatus = coordinator.get("/license").await?;
    print_status(&status, format)
}

async fn apply(coordinator: &Coordinator, file: &Path, format: Format) -> anyhow::Result<()> {
    let token = read_text(file, "the license file")?;
    let body = ApplyLicense {
        license: token.trim().to_string(),
    };
    let (_, status): (_, LicenseStatus) = coordinator.put_json("/license", &body).await?;
    if format == Format::Text {
        let id = status.license.as_ref().map_or("?", |l| l.id.as_str());
        println!("applied license {id} from {}", file.display());
    }
    print_status(&status, format)
}

fn print_status(status: &LicenseStatus, format: Format) -> anyhow::Result<()> {
    if format == Format::Json {
        println!("{}", serde_json::to_string_pretty(status)?);
        return Ok(());
    }
    let of = |used: String, limit: Option<String>| match limit {
        Some(limit) => format!("{used} of {limit}"),
        None => format!("{used} (unlimited)"),
    };
    let mut rows = vec![
        ("state", status.state.as_str().to_string()),
        ("cluster", status.cluster.clone()),
    ];
    if let Some(l) = &status.license {
        rows.push(("license", format!("{} for {}", l.id, l.customer)));
        rows.push((
            "kind",
            format!(
                "{}, covers {}",
                match l.kind {
                    ringside_api::license::LicenseKind::Cluster => "cluster",
                    ringside_api::license::LicenseKind::Deployment => "deployment",
                },
                l.clusters.join(", ")
            ),
        ));
        rows.push((
            "expires",
            format!(
                "{}{}",
                day(&l.expires_at),
                status
                    .days_left
                    .map(|d| format!(" ({})", days_left(d)))
                    .unwrap_or_default()
            ),
        ));
        if let Some(at) = &status.grace_ends_at {
            rows.push(("grace ends", day(at)));
        }
        if !l.features.is_empty() {
            rows.push(("features", l.features.join(", ")));
        }
    }
    rows.push((
        "workers",
        of(
            status.workers_used.to_string(),
            status.workers_limit.map(|n| n.to_string()),
        ),
    ));
    rows.push((
        "capacity",
        of(
            format_size(status.capacity_used_bytes),
            status.capacity_limit_bytes.map(format_size),
        ),
    ));
    if let (Some(source), Some(at)) = (status.source, status.applied_at) {
        let source = match source {
            ringside_api::license::LicenseSource::Property => "ringside.license",
            ringside_api::license::LicenseSource::Api => "the API",
        };
        rows.push((
            "applied",
            format!(
                "{} through {source}",
                at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            ),
        ));
    }
    for (name, value) in rows {
        println!("{:<12}{value}", format!("{name}:"));
    }
    println!("{}", status.message);
    Ok(())
}

/// `89 days left`, `1 day left`, or `expired` once the date has passed.
fn days_left(days: i64) -> String {
    match days {
        1 => "1 day left".into(),
        d if d >= 0 => format!("{d} days left"),
        _ => "expired".into(),
    }
}

fn day(at: &DateTime<Utc>) -> String {
    at.format("%Y-%m-%d").to_string()
}

/// Licenses name whole seconds.
fn whole_seconds(at: DateTime<Utc>) -> DateTime<Utc> {
    chrono::Timelike::with_nanosecond(&at, 0).unwrap_or(at)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_public_key_goes_beside_the_secret_one() {
        assert_eq!(
            public_key_path(Path::new("keys/vendor.key")).unwrap(),
            Path::new("keys/vendor.pub")
        );
        assert_eq!(
            public_key_path(Path::new("vendor")).unwrap(),
            Path::new("vendor.pub")
        );
        assert!(public_key_path(Path::new("vendor.pub")).is_err());
    }
}

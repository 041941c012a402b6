//! The in-process backend: Rego evaluated by `regorus`, policy files watched
//! for changes.
//!
//! Each load compiles the sources once into a `regorus::CompiledPolicy`,
//! which evaluates through `&self` and is shared behind an `Arc`, so any
//! number of tasks decide at once without a lock around the engine.
//! Measured on the shipped policy (release build, busy 2-core machine), one
//! decision took about 77 µs this way, 82 µs cloning a prepared
//! `regorus::Engine` per decision, and 73 µs locking one shared engine; the
//! lock is no faster alone and serializes every decision in the console (and
//! blocks a runtime thread while it waits), so the compiled policy it is.
//!
//! Reloading is checked on the decision path, at most once per
//! `reload_interval`, by whichever caller gets there first; the others do
//! not wait. That needs no background task to start and stop, works without
//! a runtime, and costs nothing while no one asks. The check compares each
//! file's modification time and length, and only when one changed reads the
//! files and compares a digest of their contents, so touching a file does not
//! make a new revision.

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Instant, SystemTime};

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use crate::{Decision, EmbeddedConfig, PolicyError};

/// The shipped role policy, used when no policy file is configured.
pub const SHIPPED_POLICY: &str = include_str!("../rego/ringside.rego");

/// The name the shipped policy has in error messages and on the policy page.
const SHIPPED_NAME: &str = "<shipped>/ringside.rego";

/// The hex digits of the source digest that go into a revision.
const REVISION_DIGEST_LEN: usize = 12;

pub(crate) struct Embedded {
    config: EmbeddedConfig,
    current: RwLock<Arc<Loaded>>,
    watch: Mutex<Watch>,
    last_error: RwLock<Option<PolicyError>>,
    loads: AtomicU64,
}

struct Loaded {
    compiled: regorus::CompiledPolicy,
    digest: String,
    revision: String,
    loaded_at: DateTime<Utc>,
}

struct Watch {
    next_check: Instant,
    seen: Vec<Stamp>,
}

/// What a cheap `stat` says about a file; `None` when it cannot be read, so a
/// file that disappears and comes back is noticed both times.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Stamp(Option<(SystemTime, u64)>);

struct Source {
    name: PathBuf,
    text: String,
}

impl Embedded {
    /// Loads the configured policy; fails if it does not load, since there is
    /// no earlier policy to fall back on.
    pub(crate) fn new(config: EmbeddedConfig) -> Result<Self, PolicyError> {
        let seen = stamps(&config.policy_files);
        let sources = read_sources(&config.policy_files)?;
        let loaded = compile(&sources, &config.query, 1)?;
        tracing::info!(
            revision = %loaded.revision,
            files = ?source_names(&sources),
            "policy loaded"
        );
        Ok(Embedded {
            watch: Mutex::new(Watch {
                next_check: Instant::now() + config.reload_interval,
                seen,
            }),
            config,
            current: RwLock::new(Arc::new(loaded)),
            last_error: RwLock::new(None),
            loads: AtomicU64::new(1),
        })
    }

    pub(crate) fn decide(&self, input: regorus::Value) -> Decision {
        self.reload_if_due();
        let loaded = self.current();
        let reason = match loaded.compiled.eval_with_input(input) {
            Ok(regorus::Value::Bool(allow)) => {
                return Decision {
                    allow,
                    revision: loaded.revision.clone(),
                    reason: None,
                };
            }
            Ok(other) => PolicyError::NotBoolean {
                query: self.config.query.clone(),
                got: describe(&other),
            },
            Err(err) => PolicyError::Evaluation {
                query: self.config.query.clone(),
                message: err.to_string(),
            },
        };
        tracing::warn!(
            revision = %loaded.revision,
            error = %reason,
            "policy evaluation did not yield a boolean, denying"
        );
        Decision::deny(loaded.revision.clone(), reason)
    }

    /// Reads the files now, whatever the interval, and loads them if their
    /// contents changed.
    pub(crate) fn reload(&self) -> Result<(), PolicyError> {
        let mut watch = self.watch.lock().unwrap_or_else(PoisonError::into_inner);
        watch.seen = stamps(&self.config.policy_files);
        watch.next_check = Instant::now() + self.config.reload_interval;
        self.load_if_changed()
    }

    pub(crate) fn revision(&self) -> String {
        self.current().revision.clone()
    }

    pub(crate) fn loaded_at(&self) -> DateTime<Utc> {
        self.current().loaded_at
    }

    pub(crate) fn last_error(&self) -> Option<PolicyError> {
        self.last_error
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The configured files, or the shipped policy's name when there are none.
    pub(crate) fn source_names(&self) -> Vec<String> {
        if self.config.policy_files.is_empty() {
            return vec![SHIPPED_NAME.to_owned()];
        }
        self.config
            .policy_files
            .iter()
            .map(|file| file.display().to_string())
            .collect()
    }

    fn current(&self) -> Arc<Loaded> {
        Arc::clone(&self.current.read().unwrap_or_else(PoisonError::into_inner))
    }

    fn reload_if_due(&self) {
        if self.config.policy_files.is_empty() {
            return;
        }
        let Ok(mut watch) = self.watch.try_lock() else {
            return;
        };
        let now = Instant::now();
        if now < watch.next_check {
            return;
        }
        watch.next_check = now + self.config.reload_interval;
        let seen = stamps(&self.config.policy_files);
        if seen == watch.seen {
            return;
        }
        watch.seen = seen;
        // The error is kept for the policy page and logged by load_if_changed;
        // this decision goes on with the last good policy.
        let _ = self.load_if_changed();
    }

    fn load_if_changed(&self) -> Result<(), PolicyError> {
        let kept = self.current();
        let result = read_sources(&self.config.policy_files).and_then(|sources| {
            if digest(&sources) == kept.digest {
                return Ok(None);
            }
            let load = self.loads.load(Ordering::Relaxed) + 1;
            compile(&sources, &self.config.query, load).map(|loaded| {
                self.loads.store(load, Ordering::Relaxed);
                Some((loaded, sources))
            })
        });
        match result {
            Ok(None) => {
                self.set_last_error(None);
                Ok(())
            }
            Ok(Some((loaded, sources))) => {
                tracing::info!(
                    revision = %loaded.revision,
                    previous = %kept.revision,
                    files = ?source_names(&sources),
                    "policy reloaded"
                );
                *self.current.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(loaded);
                self.set_last_error(None);
                Ok(())
            }
            Err(err) => {
                tracing::warn!(
                    kept = %kept.revision,
                    error = %err,
                    "policy reload failed, keeping the last good policy"
                );
                self.set_last_error(Some(err.clone()));
                Err(err)
            }
        }
    }

    fn set_last_error(&self, error: Option<PolicyError>) {
        *self
            .last_error
            .write()
            .unwrap_or_else(PoisonError::into_inner) = error;
    }
}

fn stamps(files: &[PathBuf]) -> Vec<Stamp> {
    files
        .iter()
        .map(|file| {
            Stamp(
                fs::metadata(file)
                    .ok()
                    .and_then(|meta| Some((meta.modified().ok()?, meta.len()))),
            )
        })
        .collect()
}

fn read_sources(files: &[PathBuf]) -> Result<Vec<Source>, PolicyError> {
    if files.is_empty() {
        return Ok(vec![Source {
            name: PathBuf::from(SHIPPED_NAME),
            text: SHIPPED_POLICY.to_owned(),
        }]);
    }
    files
        .iter()
        .map(|file| {
            fs::read_to_string(file)
                .map(|text| Source {
                    name: file.clone(),
                    text,
                })
                .map_err(|source| PolicyError::ReadPolicy {
                    file: file.clone(),
                    source: Arc::new(source),
                })
        })
        .collect()
}

fn source_names(sources: &[Source]) -> Vec<&Path> {
    sources.iter().map(|source| source.name.as_path()).collect()
}

fn digest(sources: &[Source]) -> String {
    let mut hasher = Sha256::new();
    for source in sources {
        // Lengths first, so moving text from one file to the next changes
        // the digest.
        let name = source.name.to_string_lossy();
        hasher.update((name.len() as u64).to_le_bytes());
        hasher.update(name.as_bytes());
        hasher.update((source.text.len() as u64).to_le_bytes());
        hasher.update(source.text.as_bytes());
    }
    hasher
        .finalize()
        .iter()
        .fold(String::with_capacity(64), |mut hex, byte| {
            let _ = write!(hex, "{byte:02x}");
            hex
        })
}

fn compile(sources: &[Source], query: &str, load: u64) -> Result<Loaded, PolicyError> {
    let mut engine = regorus::Engine::new();
    for source in sources {
        engine
            .add_policy(
                source.name.to_string_lossy().into_owned(),
                source.text.clone(),
            )
            .map_err(|err| policy_error(sources, &err.to_string()))?;
    }
    let compiled = engine
        .compile_with_entrypoint(&query.into())
        .map_err(|err| {
            let message = err.to_string();
            let in_sources = located(&message).is_some_and(|(file, ..)| {
                sources
                    .iter()
                    .any(|source| source.name.to_string_lossy() == file)
            });
            if in_sources {
                policy_error(sources, &message)
            } else {
                PolicyError::InvalidQuery {
                    query: query.to_owned(),
                    message: first_line(&message),
                }
            }
        })?;
    // A query naming a rule that is not a boolean (a set, a string) would
    // deny everything; say so at load time rather than on every request.
    // Undefined is fine here (a policy without a default denies empty input),
    // and so is an error: a builtin may fail on fields only real requests have.
    match compiled.eval_with_input(regorus::Value::new_object()) {
        Ok(regorus::Value::Bool(_) | regorus::Value::Undefined) | Err(_) => {}
        Ok(other) => {
            return Err(PolicyError::NotBoolean {
                query: query.to_owned(),
                got: describe(&other),
            });
        }
    }
    let digest = digest(sources);
    let revision = format!("{}.{load}", &digest[..REVISION_DIGEST_LEN]);
    Ok(Loaded {
        compiled,
        digest,
        revision,
        loaded_at: DateTime::<Utc>::from(SystemTime::now()),
    })
}

/// Turns a regorus diagnostic into an error naming the file and line.
/// Regorus formats them as `--> file:line:col`, the offending line, a caret,
/// then `error: message`.
fn policy_error(sources: &[Source], message: &str) -> PolicyError {
    let text = message
        .lines()
        .rev()
        .find_map(|line| line.trim().strip_prefix("error: "))
        .map_or_else(|| first_line(message), str::to_owned);
    match located(message) {
        Some((file, line, column)) => PolicyError::InvalidPolicy {
            file: PathBuf::from(file),
            line,
            column,
            message: text,
        },
        None => PolicyError::InvalidPolicies {
            files: source_names(sources)
                .iter()
                .map(|name| name.display().to_string())
                .collect::<Vec<_>>()
                .join(", "),
            message: text,
        },
    }
}

fn located(message: &str) -> Option<(&str, u32, u32)> {
    let location = message
        .lines()
        .find_map(|line| line.trim().strip_prefix("--> "))?;
    let (rest, column) = location.rsplit_once(':')?;
    let (file, line) = rest.rsplit_once(':')?;
    Some((file, line.parse().ok()?, column.parse().ok()?))
}

fn first_line(message: &str) -> String {
    message
        .lines()
        .map(str::trim)
        .find(|line| !line.is_empty())
        .unwrap_or("unknown error")
        .to_owned()
}

fn describe(value: &regorus::Value) -> String {
    match value {
        regorus::Value::Undefined => "undefined".to_owned(),
        other => serde_json::to_string(other).unwrap_or_else(|_| format!("{other:?}")),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::LazyLock;
    use std::time::Duration;

    use proptest::prelude::*;

    use super::*;
    use crate::matrix::{Who, cells, request};
    use crate::{Action, Input, Resource};

    static SHIPPED: LazyLock<Embedded> =
        LazyLock::new(|| Embedded::new(EmbeddedConfig::default()).unwrap());

    fn decide(engine: &Embedded, input: &Input) -> Decision {
        engine.decide(regorus::Value::from(serde_json::to_value(input).unwrap()))
    }

    #[test]
    fn authorization_matrix_of_the_shipped_policy() {
        let cells = cells();
        assert_eq!(cells.len(), Action::ALL.len() * 5);
        let wrong: Vec<_> = cells
            .iter()
            .filter_map(|(who, action, input, allowed)| {
                let decision = decide(&SHIPPED, input);
                assert_eq!(decision.reason, None, "{who:?} {action}");
                (decision.allow != *allowed)
                    .then(|| format!("{who:?} {action}: got {}", decision.allow))
            })
            .collect();
        assert!(wrong.is_empty(), "wrong decisions:\n{}", wrong.join("\n"));
    }

    #[test]
    fn shipped_action_sets_match_the_action_list() {
        let mut engine = regorus::Engine::new();
        engine
            .add_policy(SHIPPED_NAME.to_owned(), SHIPPED_POLICY.to_owned())
            .unwrap();
        let mut names = |rule: &str| -> Vec<String> {
            let value = engine
                .eval_rule(format!("data.ringside.authz.{rule}"))
                .unwrap();
            let mut names: Vec<String> =
                serde_json::from_str(&value.to_json_str().unwrap()).unwrap();
            names.sort();
            names
        };
        let mut reads: Vec<_> = Action::ALL
            .iter()
            .filter(|a| a.is_read())
            .map(|a| a.to_string())
            .collect();
        let mut changes: Vec<_> = Action::ALL
            .iter()
            .filter(|a| a.is_change())
            .map(|a| a.to_string())
            .collect();
        reads.sort();
        changes.sort();
        assert_eq!(names("reads"), reads);
        assert_eq!(names("changes"), changes);
    }

    #[test]
    fn one_tenants_policy_is_for_its_own_group_only() {
        let tenant = |owner: &str| Resource::new("tenant").for_tenant("t").in_group(owner);
        for (roles, owner, action, allowed) in [
            (&["admin"][..], "team-a", Action::TenantRead, true),
            (&["admin"], "team-b", Action::TenantRead, false),
            (&["viewer"], "team-a", Action::TenantRead, true),
            (&["viewer"], "team-b", Action::TenantRead, false),
            (&["admin"], "team-b", Action::TenantUpdate, false),
            (&["admin"], "team-a", Action::TenantUpdate, true),
            (&["super-admin"], "team-b", Action::TenantRead, true),
        ] {
            let input = Input::new(
                "u",
                vec!["team-a".into()],
                roles.iter().map(|r| (*r).to_owned()).collect(),
                action,
                tenant(owner),
            );
            assert_eq!(
                decide(&SHIPPED, &input).allow,
                allowed,
                "{roles:?} {action} on {owner}'s tenant"
            );
        }
    }

    #[test]
    fn empty_input_is_denied() {
        let decision = decide(&SHIPPED, &Input::default());
        assert!(!decision.allow);
        assert_eq!(decision.reason, None);
        let decision = SHIPPED.decide(regorus::Value::new_object());
        assert!(!decision.allow);
    }

    #[test]
    fn unknown_action_is_denied_even_to_super_admin() {
        let mut input = request(Who::SuperAdmin, Action::ClusterDelete);
        input.action = "cluster.destroy".into();
        assert!(!decide(&SHIPPED, &input).allow);
    }

    #[test]
    fn admin_cannot_change_a_resource_without_owning_group() {
        let mut input = request(Who::AdminOwnGroup, Action::LicenseManage);
        input.resource.group = None;
        assert!(!decide(&SHIPPED, &input).allow);
        input.resource.group = Some(String::new());
        input.groups.push(String::new());
        assert!(!decide(&SHIPPED, &input).allow);
        input.roles = vec!["super-admin".into()];
        assert!(decide(&SHIPPED, &input).allow);
    }

    #[test]
    fn roles_add_up() {
        let mut input = request(Who::AdminOtherGroup, Action::TenantUpdate);
        assert!(!decide(&SHIPPED, &input).allow);
        input.roles.push("super-admin".into());
        assert!(decide(&SHIPPED, &input).allow);
    }

    #[test]
    fn shipped_revision_is_digest_and_load_count() {
        let revision = SHIPPED.revision();
        let (digest, load) = revision.split_once('.').unwrap();
        assert_eq!(digest.len(), REVISION_DIGEST_LEN);
        assert!(digest.chars().all(|c| c.is_ascii_hexdigit()));
        assert_eq!(load, "1");
        assert_eq!(decide(&SHIPPED, &Input::default()).revision, revision);
    }

    fn role_name() -> impl Strategy<Value = String> {
        prop_oneof![
            Just("super-admin".to_owned()),
            Just("admin".to_owned()),
            Just("viewer".to_owned()),
            "[a-z-]{0,12}",
        ]
    }

    fn any_input(roles: impl Strategy<Value = Vec<String>>) -> impl Strategy<Value = Input> {
        let action = prop_oneof![
            proptest::sample::select(Action::ALL).prop_map(|a| a.as_str().to_owned()),
            "[a-z]{0,8}\\.[a-z]{0,8}",
        ];
        let group = prop_oneof![
            Just("team-a".to_owned()),
            Just("team-b".to_owned()),
            "[a-z-]{0,8}"
        ];
        (
            "[a-z]{0,8}",
            proptest::collection::vec(group.clone(), 0..4),
            roles,
            action,
            proptest::option::of(group),
            proptest::option::of("[a-z0-9-]{0,8}"),
        )
            .prop_map(|(user, groups, roles, action, owner, cluster)| Input {
                user,
                groups,
                roles,
                action,
                resource: Resource {
                    kind: "cluster".into(),
                    cluster,
                    group: owner,
                    ..Resource::default()
                },
            })
    }

    /// A change to something shared: every change but managing one's own
    /// API tokens, which every role may do.
    fn is_shared_change(action: &str) -> bool {
        action
            .parse::<Action>()
            .is_ok_and(|a| a.is_change() && a != Action::TokenManage)
    }

    proptest! {
        #[test]
        fn no_role_is_always_denied(
            input in any_input(proptest::collection::vec(
                role_name().prop_filter("not a console role", |r| !["super-admin", "admin", "viewer"].contains(&r.as_str())),
                0..3,
            ))
        ) {
            prop_assert!(!decide(&SHIPPED, &input).allow);
        }

        #[test]
        fn viewer_is_never_allowed_a_change(
            input in any_input(Just(vec!["viewer".to_owned()]))
        ) {
            prop_assert!(!(is_shared_change(&input.action) && decide(&SHIPPED, &input).allow));
        }

        #[test]
        fn admin_never_changes_another_groups_resource(
            mut input in any_input(Just(vec!["admin".to_owned()])),
            change in proptest::sample::select(Action::ALL).prop_filter("a shared change", |a| is_shared_change(a.as_str())),
        ) {
            input.action = change.as_str().to_owned();
            let owner = input.resource.group.clone();
            input.groups.retain(|group| Some(group) != owner.as_ref());
            prop_assert!(!decide(&SHIPPED, &input).allow);
        }

        #[test]
        fn only_known_actions_are_ever_allowed(input in any_input(proptest::collection::vec(role_name(), 0..3))) {
            let decision = decide(&SHIPPED, &input);
            prop_assert!(!decision.allow || input.action.parse::<Action>().is_ok());
        }
    }

    const ALLOW_A: &str =
        "package ringside.authz\n\ndefault allow := false\n\nallow if input.user == \"a\"\n";
    const ALLOW_BB: &str =
        "package ringside.authz\n\ndefault allow := false\n\nallow if input.user == \"bb\"\n";
    const BROKEN: &str =
        "package ringside.authz\n\ndefault allow := false\n\nallow if {\n  input.user ==\n";

    fn user(name: &str) -> Input {
        Input {
            user: name.into(),
            ..Input::default()
        }
    }

    fn watching(file: &Path, reload_interval: Duration) -> Embedded {
        Embedded::new(EmbeddedConfig {
            policy_files: vec![file.to_path_buf()],
            reload_interval,
            ..EmbeddedConfig::default()
        })
        .unwrap()
    }

    #[test]
    fn reloads_when_a_policy_file_changes() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("authz.rego");
        fs::write(&file, ALLOW_A).unwrap();
        let engine = watching(&file, Duration::ZERO);
        let first = engine.revision();
        assert!(decide(&engine, &user("a")).allow);
        assert!(!decide(&engine, &user("bb")).allow);

        fs::write(&file, ALLOW_BB).unwrap();
        let decision = decide(&engine, &user("bb"));
        assert!(decision.allow);
        assert!(!decide(&engine, &user("a")).allow);
        assert_ne!(decision.revision, first);
        assert!(decision.revision.ends_with(".2"), "{}", decision.revision);
        assert!(engine.last_error().is_none());
    }

    #[test]
    fn touching_without_changing_keeps_the_revision() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("authz.rego");
        fs::write(&file, ALLOW_A).unwrap();
        let engine = watching(&file, Duration::ZERO);
        let first = engine.revision();
        fs::write(&file, ALLOW_A).unwrap();
        engine.reload().unwrap();
        assert_eq!(decide(&engine, &user("a")).revision, first);
    }

    #[test]
    fn checks_at_most_once_per_interval_unless_asked() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("authz.rego");
        fs::write(&file, ALLOW_A).unwrap();
        let engine = watching(&file, Duration::from_secs(3600));
        fs::write(&file, ALLOW_BB).unwrap();
        assert!(
            decide(&engine, &user("a")).allow,
            "checked before the interval"
        );
        engine.reload().unwrap();
        assert!(decide(&engine, &user("bb")).allow);
    }

    #[test]
    fn broken_edit_keeps_the_last_good_policy() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("authz.rego");
        fs::write(&file, ALLOW_A).unwrap();
        let engine = watching(&file, Duration::ZERO);
        let good = engine.revision();

        fs::write(&file, BROKEN).unwrap();
        let decision = decide(&engine, &user("a"));
        assert!(decision.allow, "the last good policy still decides");
        assert_eq!(decision.revision, good);
        match engine.last_error() {
            Some(PolicyError::InvalidPolicy {
                file: named,
                line,
                message,
                ..
            }) => {
                assert_eq!(named, file);
                assert!((5..=7).contains(&line), "line {line}");
                assert!(!message.is_empty());
            }
            other => panic!("expected a parse error, got {other:?}"),
        }
        let shown = engine.last_error().unwrap().to_string();
        assert!(shown.starts_with("policy file "), "{shown}");
        assert!(!shown.ends_with('.'), "{shown}");

        fs::remove_file(&file).unwrap();
        assert!(decide(&engine, &user("a")).allow);
        assert!(matches!(
            engine.last_error(),
            Some(PolicyError::ReadPolicy { .. })
        ));

        fs::write(&file, ALLOW_BB).unwrap();
        assert!(decide(&engine, &user("bb")).allow);
        assert!(engine.last_error().is_none());
    }

    #[test]
    fn reverting_a_broken_edit_clears_the_error() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("authz.rego");
        fs::write(&file, ALLOW_A).unwrap();
        let engine = watching(&file, Duration::ZERO);
        let good = engine.revision();
        fs::write(&file, BROKEN).unwrap();
        assert!(engine.reload().is_err());
        fs::write(&file, ALLOW_A).unwrap();
        engine.reload().unwrap();
        assert!(engine.last_error().is_none());
        assert_eq!(engine.revision(), good);
    }

    #[test]
    fn several_files_load_together() {
        let dir = tempfile::tempdir().unwrap();
        let rules = dir.path().join("rules.rego");
        let main = dir.path().join("main.rego");
        fs::write(
            &rules,
            "package ringside.people\n\ntrusted := {\"a\", \"c\"}\n",
        )
        .unwrap();
        fs::write(
            &main,
            "package ringside.authz\n\ndefault allow := false\n\nallow if input.user in data.ringside.people.trusted\n",
        )
        .unwrap();
        let engine = Embedded::new(EmbeddedConfig {
            policy_files: vec![rules, main],
            ..EmbeddedConfig::default()
        })
        .unwrap();
        assert!(decide(&engine, &user("c")).allow);
        assert!(!decide(&engine, &user("b")).allow);
    }

    #[test]
    fn load_errors_say_what_is_wrong() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("authz.rego");
        let load = |text: &str, query: &str| {
            fs::write(&file, text).unwrap();
            Embedded::new(EmbeddedConfig {
                policy_files: vec![file.clone()],
                query: query.to_owned(),
                ..EmbeddedConfig::default()
            })
            .err()
            .unwrap()
        };

        match load(BROKEN, crate::DEFAULT_QUERY) {
            PolicyError::InvalidPolicy { line, .. } => assert!((5..=7).contains(&line)),
            other => panic!("{other:?}"),
        }
        let missing = Embedded::new(EmbeddedConfig {
            policy_files: vec![dir.path().join("nope.rego")],
            ..EmbeddedConfig::default()
        })
        .err()
        .unwrap();
        assert!(
            matches!(missing, PolicyError::ReadPolicy { .. }),
            "{missing:?}"
        );
        assert!(missing.to_string().contains("nope.rego"), "{missing}");

        let err = load(ALLOW_A, "data.ringside.authz.permit");
        assert!(matches!(err, PolicyError::InvalidQuery { .. }), "{err:?}");
        assert!(
            err.to_string().contains("expected the path of a rule"),
            "{err}"
        );

        let err = load(
            "package ringside.authz\n\nallow := {\"a\"}\n",
            crate::DEFAULT_QUERY,
        );
        match &err {
            PolicyError::NotBoolean { got, .. } => assert_eq!(got, "[\"a\"]"),
            other => panic!("{other:?}"),
        }
        assert!(err.to_string().ends_with("expected true or false"), "{err}");
    }

    #[test]
    fn undefined_or_non_boolean_result_denies_with_a_reason() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("authz.rego");
        fs::write(
            &file,
            "package ringside.authz\n\nallow if input.user == \"a\"\n\nallow := \"yes\" if input.user == \"s\"\n",
        )
        .unwrap();
        let engine = watching(&file, Duration::ZERO);
        assert!(decide(&engine, &user("a")).allow);
        let undefined = decide(&engine, &user("b"));
        assert!(!undefined.allow);
        assert!(
            undefined
                .reason
                .as_deref()
                .unwrap()
                .contains("yielded undefined"),
            "{undefined:?}"
        );
        let string = decide(&engine, &user("s"));
        assert!(!string.allow);
        assert!(string.reason.is_some(), "{string:?}");
    }
}

//! The CLI's settings: profiles in `config.toml` (in `$STINT_CONFIG_DIR`, else
//! `$XDG_CONFIG_HOME/stint`, else `~/.config/stint`), each with an API URL, an issuer, a client
//! id, a default principal and an output format; and the signed-in tokens cached beside it
//! (mode 0600). Flags override the environment, which overrides the file.

use crate::Failure;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

pub const DEFAULT_API: &str = "http://127.0.0.1:8787";
pub const DEFAULT_CLIENT_ID: &str = "stint";
/// The keys a profile holds, for `stint config set/get`.
pub const KEYS: [&str; 5] = ["api", "issuer", "client_id", "principal", "output"];

#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api: Option<String>,
    /// The OIDC issuer `stint login` signs in against; default: the API itself (`stint serve`
    /// is its own issuer).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// The IAM role ARN `stint request` attaches grants to when `--principal` is left out.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub principal: Option<String>,
    /// `table` or `json`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output: Option<String>,
}

impl Profile {
    pub fn get(&self, key: &str) -> Result<Option<&String>, Failure> {
        Ok(match key {
            "api" => self.api.as_ref(),
            "issuer" => self.issuer.as_ref(),
            "client_id" => self.client_id.as_ref(),
            "principal" => self.principal.as_ref(),
            "output" => self.output.as_ref(),
            other => return Err(unknown_key(other)),
        })
    }

    pub fn set(&mut self, key: &str, value: Option<String>) -> Result<(), Failure> {
        if key == "output" {
            if let Some(v) = value.as_deref().filter(|v| !matches!(*v, "table" | "json")) {
                return Err(Failure::usage(format!(
                    "output must be table or json, not {v:?}"
                )));
            }
        }
        if matches!(key, "api" | "issuer") {
            if let Some(v) = value.as_deref().filter(|v| !v.starts_with("http")) {
                return Err(Failure::usage(format!(
                    "{key} must be an http(s) URL, not {v:?}"
                )));
            }
        }
        if key == "principal" {
            if let Some(v) = value.as_deref() {
                stint_domain::PrincipalArn::parse(v)
                    .map_err(|e| Failure::usage(format!("principal: {e}")))?;
            }
        }
        let slot = match key {
            "api" => &mut self.api,
            "issuer" => &mut self.issuer,
            "client_id" => &mut self.client_id,
            "principal" => &mut self.principal,
            "output" => &mut self.output,
            other => return Err(unknown_key(other)),
        };
        *slot = value;
        Ok(())
    }
}

fn unknown_key(key: &str) -> Failure {
    Failure::usage(format!(
        "no setting {key:?}: the keys are {}",
        KEYS.join(", ")
    ))
}

#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default_profile: Option<String>,
    #[serde(default)]
    pub profiles: BTreeMap<String, Profile>,
}

/// The folder of `config.toml` and `tokens/`.
pub fn dir() -> Result<PathBuf, Failure> {
    let var = |n: &str| {
        std::env::var_os(n)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    if let Some(d) = var("STINT_CONFIG_DIR") {
        return Ok(d);
    }
    if let Some(x) = var("XDG_CONFIG_HOME") {
        return Ok(x.join("stint"));
    }
    var("HOME")
        .map(|h| h.join(".config").join("stint"))
        .ok_or_else(|| {
            Failure::usage("no HOME, XDG_CONFIG_HOME or STINT_CONFIG_DIR to keep settings in")
        })
}

pub fn load(dir: &Path) -> Result<ConfigFile, Failure> {
    let path = dir.join("config.toml");
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            toml::from_str(&text).map_err(|e| Failure::usage(format!("{}: {e}", path.display())))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(ConfigFile::default()),
        Err(e) => Err(Failure::trouble(format!("{}: {e}", path.display()))),
    }
}

/// Writes a private file (0600) whole, through a temporary file, so a reader never sees half.
pub fn write_private(path: &Path, text: &str) -> Result<(), Failure> {
    let fail = |e: std::io::Error| Failure::trouble(format!("{}: {e}", path.display()));
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(fail)?;
    }
    let tmp = path.with_extension("tmp");
    let _ = std::fs::remove_file(&tmp);
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let mut f = opts.open(&tmp).map_err(fail)?;
    f.write_all(text.as_bytes()).map_err(fail)?;
    f.sync_all().map_err(fail)?;
    std::fs::rename(&tmp, path).map_err(fail)
}

pub fn save(dir: &Path, file: &ConfigFile) -> Result<(), Failure> {
    let text = toml::to_string_pretty(file).map_err(|e| Failure::trouble(e.to_string()))?;
    write_private(&dir.join("config.toml"), &text)
}

/// What a command runs with, once flags, the environment and the file are weighed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub dir: PathBuf,
    pub profile: String,
    pub api: String,
    pub issuer: String,
    pub client_id: String,
    pub principal: Option<String>,
    pub json: bool,
}

impl Settings {
    /// `flag_*` are what clap gave: a flag, or else its environment variable.
    pub fn resolve(
        dir: PathBuf,
        file: &ConfigFile,
        flag_profile: Option<&str>,
        flag_api: Option<&str>,
        flag_json: bool,
    ) -> Settings {
        let profile = flag_profile
            .map(str::to_owned)
            .or_else(|| file.default_profile.clone())
            .unwrap_or_else(|| "default".to_owned());
        let p = file.profiles.get(&profile).cloned().unwrap_or_default();
        let api = flag_api
            .map(str::to_owned)
            .or(p.api)
            .unwrap_or_else(|| DEFAULT_API.to_owned())
            .trim_end_matches('/')
            .to_owned();
        Settings {
            dir,
            issuer: p
                .issuer
                .unwrap_or_else(|| api.clone())
                .trim_end_matches('/')
                .to_owned(),
            api,
            client_id: p.client_id.unwrap_or_else(|| DEFAULT_CLIENT_ID.to_owned()),
            principal: p.principal,
            json: flag_json || p.output.as_deref() == Some("json"),
            profile,
        }
    }

    pub fn token_path(&self) -> PathBuf {
        self.dir
            .join("tokens")
            .join(format!("{}.json", self.profile))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file() -> ConfigFile {
        toml::from_str(
            r#"
            default_profile = "prod"
            [profiles.prod]
            api = "https://stint.example.com/"
            issuer = "https://idp.example.com"
            client_id = "abc"
            principal = "arn:aws:iam::123456789012:role/stint/oncall"
            output = "json"
            [profiles.local]
            api = "http://127.0.0.1:8787"
            "#,
        )
        .unwrap()
    }

    #[test]
    fn flags_and_environment_override_the_file_which_overrides_the_defaults() {
        let d = PathBuf::from("/cfg");
        // The file's default profile, as written.
        let s = Settings::resolve(d.clone(), &file(), None, None, false);
        assert_eq!(s.profile, "prod");
        assert_eq!(s.api, "https://stint.example.com");
        assert_eq!(s.issuer, "https://idp.example.com");
        assert_eq!(s.client_id, "abc");
        assert!(s.json);
        // --profile (or STINT_PROFILE) picks another; its missing keys take the defaults.
        let s = Settings::resolve(d.clone(), &file(), Some("local"), None, false);
        assert_eq!(
            (
                s.api.as_str(),
                s.issuer.as_str(),
                s.client_id.as_str(),
                s.json
            ),
            (
                "http://127.0.0.1:8787",
                "http://127.0.0.1:8787",
                "stint",
                false
            )
        );
        // --api (or STINT_API) beats the profile's.
        let s = Settings::resolve(d.clone(), &file(), None, Some("http://other:1"), false);
        assert_eq!(s.api, "http://other:1");
        // No file at all: the local defaults.
        let s = Settings::resolve(d.clone(), &ConfigFile::default(), None, None, false);
        assert_eq!(
            (s.profile.as_str(), s.api.as_str()),
            ("default", DEFAULT_API)
        );
        assert_eq!(s.token_path(), PathBuf::from("/cfg/tokens/default.json"));
    }

    #[test]
    fn settings_are_checked_when_set() {
        let mut p = Profile::default();
        assert!(p.set("output", Some("yaml".into())).is_err());
        assert!(p.set("api", Some("stint.example.com".into())).is_err());
        assert!(p.set("principal", Some("not-an-arn".into())).is_err());
        assert!(p.set("colour", Some("red".into())).is_err());
        p.set("output", Some("json".into())).unwrap();
        assert_eq!(p.get("output").unwrap().map(String::as_str), Some("json"));
        p.set("output", None).unwrap();
        assert_eq!(p.get("output").unwrap(), None);
        assert!(toml::from_str::<ConfigFile>("[profiles.x]\ncolour = 1").is_err());
    }
}

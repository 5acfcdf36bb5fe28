//! Relief settings: the mesh's, plus which department this process is.

use mesh::MeshSettings;
use serde::Deserialize;

/// `{department}` in the service name and database URL is replaced by the department.
pub const DEFAULTS: &str = r#"
service = "relief-{department}"
[http]
port = 8090
[database]
url = "postgres://postgres@127.0.0.1:5432/relief_{department}"
[relief]
department = "medical"
"#;

#[derive(Debug, Clone, Deserialize)]
pub struct Settings {
    #[serde(flatten)]
    pub mesh: MeshSettings,
    pub relief: ReliefSettings,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ReliefSettings {
    /// medical, education, housing, employment or disaster.
    pub department: String,
    #[serde(default)]
    pub policy_file: Option<String>,
}

impl Settings {
    /// Loads the settings; `--department <dept>` on the command line wins over the files.
    pub fn load(args: &[String]) -> anyhow::Result<Self> {
        let dept = args
            .windows(2)
            .find(|w| w[0] == "--department")
            .map(|w| w[1].clone());
        let overrides: Vec<(&str, &str)> = dept
            .as_deref()
            .map(|d| vec![("relief.department", d)])
            .unwrap_or_default();
        let s: Settings = mesh::settings::load_with(DEFAULTS, &overrides)?;
        Ok(s.resolved())
    }

    /// Fills `{department}` into the service name and database URL.
    pub fn resolved(mut self) -> Self {
        let d = self.relief.department.clone();
        self.mesh.service = self.mesh.service.replace("{department}", &d);
        self.mesh.database.url = self.mesh.database.url.replace("{department}", &d);
        self
    }
}

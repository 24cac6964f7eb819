//! Group, version and kind of an object: the key every schema, scope and lifecycle lookup
//! uses, parsed once from `apiVersion` and `kind`.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Gvk {
    /// Empty for the core group (`v1`).
    pub group: String,
    pub version: String,
    pub kind: String,
}

impl Gvk {
    pub fn new(group: &str, version: &str, kind: &str) -> Self {
        Gvk {
            group: group.to_owned(),
            version: version.to_owned(),
            kind: kind.to_owned(),
        }
    }

    /// `apps/v1` + `Deployment`, or `v1` + `Service` for the core group.
    pub fn from_api_version(api_version: &str, kind: &str) -> Self {
        match api_version.split_once('/') {
            Some((group, version)) => Gvk::new(group, version, kind),
            None => Gvk::new("", api_version, kind),
        }
    }

    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// `group/Kind` (`/Service` for the core group): scope and naming do not depend on the
    /// version.
    pub fn group_kind(&self) -> String {
        format!("{}/{}", self.group, self.kind)
    }

    /// Whether the version is a pre-release (`v1beta1`, `v2alpha1`).
    pub fn is_prerelease(&self) -> bool {
        self.version.contains("alpha") || self.version.contains("beta")
    }
}

impl fmt::Display for Gvk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.api_version(), self.kind)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn core_and_named_groups() {
        let service = Gvk::from_api_version("v1", "Service");
        assert_eq!(service.group, "");
        assert_eq!(service.api_version(), "v1");
        assert_eq!(service.group_kind(), "/Service");
        assert_eq!(service.to_string(), "v1/Service");
        let deploy = Gvk::from_api_version("apps/v1", "Deployment");
        assert_eq!(deploy.group_kind(), "apps/Deployment");
        assert_eq!(deploy.to_string(), "apps/v1/Deployment");
        assert!(Gvk::from_api_version("batch/v1beta1", "CronJob").is_prerelease());
        assert!(!deploy.is_prerelease());
    }
}

//! The order a stage applies objects in: what others depend on goes first (CRDs, then
//! Namespaces, then what pods mount or run as, then Services, then workloads, then the
//! rest), and deletes go in reverse. Objects in one group have no order among themselves,
//! so a group is applied with bounded concurrency.

use std::fmt;

/// An apply group, in apply order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Group {
    /// CustomResourceDefinitions; the stage waits until they are Established.
    Definitions,
    Namespaces,
    /// RBAC, ServiceAccounts, ConfigMaps, Secrets and what else pods mount or use.
    Configuration,
    Services,
    Workloads,
    /// Everything else: Ingresses, policies, custom resources.
    Rest,
}

impl Group {
    pub(crate) const ALL: [Group; 6] = [
        Group::Definitions,
        Group::Namespaces,
        Group::Configuration,
        Group::Services,
        Group::Workloads,
        Group::Rest,
    ];

    /// The group of an object by its apiVersion and kind.
    pub(crate) fn of(api_version: &str, kind: &str) -> Group {
        let group = api_version.rsplit_once('/').map_or("", |(g, _)| g);
        match (group, kind) {
            ("apiextensions.k8s.io", "CustomResourceDefinition") => Group::Definitions,
            ("", "Namespace") => Group::Namespaces,
            (
                "rbac.authorization.k8s.io",
                "ClusterRole" | "ClusterRoleBinding" | "Role" | "RoleBinding",
            )
            | (
                "",
                "ServiceAccount"
                | "ConfigMap"
                | "Secret"
                | "PersistentVolumeClaim"
                | "PersistentVolume"
                | "LimitRange"
                | "ResourceQuota",
            )
            | ("storage.k8s.io", "StorageClass")
            | ("scheduling.k8s.io", "PriorityClass") => Group::Configuration,
            ("", "Service") => Group::Services,
            ("apps", "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet")
            | ("batch", "Job" | "CronJob")
            | ("", "Pod" | "ReplicationController") => Group::Workloads,
            _ => Group::Rest,
        }
    }
}

impl fmt::Display for Group {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Group::Definitions => "custom resource definitions",
            Group::Namespaces => "namespaces",
            Group::Configuration => "configuration",
            Group::Services => "services",
            Group::Workloads => "workloads",
            Group::Rest => "the rest",
        })
    }
}

/// Splits `items` into the apply groups, in apply order (empty groups left out); each
/// group keeps the items' own order.
pub(crate) fn apply_order<T>(
    items: Vec<T>,
    key: impl Fn(&T) -> (&str, &str),
) -> Vec<(Group, Vec<T>)> {
    let mut groups: Vec<(Group, Vec<T>)> = Group::ALL.iter().map(|g| (*g, Vec::new())).collect();
    for item in items {
        let (api_version, kind) = key(&item);
        let group = Group::of(api_version, kind);
        groups[group as usize].1.push(item);
    }
    groups.retain(|(_, items)| !items.is_empty());
    groups
}

/// The same groups in delete order: the reverse of the apply order.
pub(crate) fn delete_order<T>(
    items: Vec<T>,
    key: impl Fn(&T) -> (&str, &str),
) -> Vec<(Group, Vec<T>)> {
    let mut groups = apply_order(items, key);
    groups.reverse();
    groups
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_follow_the_dependencies() {
        assert_eq!(
            Group::of("apiextensions.k8s.io/v1", "CustomResourceDefinition"),
            Group::Definitions
        );
        assert_eq!(Group::of("v1", "Namespace"), Group::Namespaces);
        assert_eq!(
            Group::of("rbac.authorization.k8s.io/v1", "RoleBinding"),
            Group::Configuration
        );
        assert_eq!(Group::of("v1", "Secret"), Group::Configuration);
        assert_eq!(Group::of("v1", "Service"), Group::Services);
        assert_eq!(Group::of("apps/v1", "Deployment"), Group::Workloads);
        assert_eq!(Group::of("batch/v1", "CronJob"), Group::Workloads);
        assert_eq!(Group::of("networking.k8s.io/v1", "Ingress"), Group::Rest);
        assert_eq!(Group::of("cert-manager.io/v1", "Certificate"), Group::Rest);
        // A kind name alone does not decide: a custom `Deployment` is not a workload.
        assert_eq!(Group::of("example.com/v1", "Deployment"), Group::Rest);
    }

    #[test]
    fn apply_order_and_its_reverse() {
        let items = vec![
            ("networking.k8s.io/v1", "Ingress"),
            ("apps/v1", "Deployment"),
            ("v1", "Namespace"),
            ("v1", "ConfigMap"),
            ("apiextensions.k8s.io/v1", "CustomResourceDefinition"),
            ("v1", "Service"),
            ("v1", "Secret"),
        ];
        let order: Vec<Group> = apply_order(items.clone(), |i| *i)
            .into_iter()
            .map(|(g, _)| g)
            .collect();
        assert_eq!(order, Group::ALL);
        let configuration = &apply_order(items.clone(), |i| *i)[2].1;
        assert_eq!(configuration, &[("v1", "ConfigMap"), ("v1", "Secret")]);
        let reverse: Vec<Group> = delete_order(items, |i| *i)
            .into_iter()
            .map(|(g, _)| g)
            .collect();
        assert_eq!(reverse.first(), Some(&Group::Rest));
        assert_eq!(reverse.last(), Some(&Group::Definitions));
    }
}

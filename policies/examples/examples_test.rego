# Well-behaved objects of a small shop stack pass every bundled pack at the restricted level.
package examples_test

import rego.v1

import data.lib.fixtures_test as fx

# The bundled packs by name. Spelled out rather than looked up as data[pack]: OPA's compiler
# takes data[<variable>] for a reference to every package, this one included, and refuses the
# module as recursive.
pack_documents := {"namespace": data.namespace, "security": data.security, "cluster": data.cluster}

# Every deny rule of every pack, as [pack, rule].
deny_rules := {[pack, name] |
	some pack, doc in pack_documents
	some name, _ in doc
	startswith(name, "deny_")
}

# Every denial of every pack for obj, as [pack, rule, message].
denials(obj, object_ctx) := found if {
	found := {[pack, name, msg] |
		some pack, doc in pack_documents
		some name, msgs in doc
		startswith(name, "deny_")
		some msg in msgs
	} with input as obj
		with data.policyrun.cluster as fx.restricted_cluster
		with data.policyrun.object as object_ctx
}

# Every deny rule was looked at, with the value of a set (the check below is not vacuous).
test_all_deny_rules_are_sets if {
	count(deny_rules) == 28
	every rule in deny_rules {
		is_set(pack_documents[rule[0]][rule[1]]) with input as fx.good_deployment
			with data.policyrun.cluster as fx.restricted_cluster
			with data.policyrun.object as fx.namespaced_object
	}
}

test_good_deployment_passes_everything if {
	denials(fx.good_deployment, fx.namespaced_object) == set()
}

test_bad_deployment_is_caught if {
	bad := object.union(fx.deployment(fx.bad_pod_spec), {"metadata": {"namespace": "payments"}})
	found := denials(bad, fx.namespaced_object)
	count(found) > 20
	["namespace", "deny_unknown_namespace", `namespace "payments" is not created in cluster "prod" (no Namespace object of that name in its tree)`] in found
}

namespace := {
	"apiVersion": "v1",
	"kind": "Namespace",
	"metadata": {"name": "shop", "labels": {"pod-security.kubernetes.io/enforce": "restricted"}},
}

service := {
	"apiVersion": "v1",
	"kind": "Service",
	"metadata": {"name": "web", "namespace": "shop", "labels": {"app.kubernetes.io/name": "web"}},
	"spec": {
		"type": "ClusterIP",
		"selector": {"app.kubernetes.io/name": "web"},
		"ports": [{"name": "http", "port": 80, "targetPort": "http"}],
	},
}

internal_load_balancer := {
	"apiVersion": "v1",
	"kind": "Service",
	"metadata": {
		"name": "web-internal",
		"namespace": "shop",
		"annotations": {"networking.gke.io/load-balancer-type": "Internal"},
	},
	"spec": {
		"type": "LoadBalancer",
		"selector": {"app.kubernetes.io/name": "web"},
		"ports": [{"name": "http", "port": 80, "targetPort": "http"}],
	},
}

configmap := {
	"apiVersion": "v1",
	"kind": "ConfigMap",
	"metadata": {"name": "web", "namespace": "shop"},
	"data": {"LOG_LEVEL": "info", "FEATURES": "checkout,search"},
}

ingress := {
	"apiVersion": "networking.k8s.io/v1",
	"kind": "Ingress",
	"metadata": {
		"name": "web",
		"namespace": "shop",
		"annotations": {"cert-manager.io/cluster-issuer": "letsencrypt"},
	},
	"spec": {
		"ingressClassName": "nginx",
		"tls": [{"hosts": ["shop.example.com", "www.shop.example.com"], "secretName": "web-tls"}],
		"rules": [
			{"host": "shop.example.com", "http": {"paths": [{"path": "/", "pathType": "Prefix", "backend": {"service": {"name": "web", "port": {"name": "http"}}}}]}},
			{"host": "www.shop.example.com", "http": {"paths": [{"path": "/", "pathType": "Prefix", "backend": {"service": {"name": "web", "port": {"name": "http"}}}}]}},
		],
	},
}

postgres := {
	"apiVersion": "apps/v1",
	"kind": "StatefulSet",
	"metadata": {"name": "postgres", "namespace": "shop"},
	"spec": {
		"serviceName": "postgres",
		"replicas": 1,
		"selector": {"matchLabels": {"app.kubernetes.io/name": "postgres"}},
		"template": {
			"metadata": {"labels": {"app.kubernetes.io/name": "postgres"}},
			"spec": {
				"securityContext": {"runAsNonRoot": true, "runAsUser": 999, "fsGroup": 999, "seccompProfile": {"type": "RuntimeDefault"}},
				"containers": [{
					"name": "postgres",
					"image": "postgres:16.4-alpine",
					"envFrom": [{"secretRef": {"name": "postgres-credentials"}}],
					"ports": [{"name": "postgres", "containerPort": 5432}],
					"readinessProbe": {"exec": {"command": ["pg_isready", "-U", "shop"]}, "periodSeconds": 10},
					"resources": {"requests": {"cpu": "250m", "memory": "512Mi"}, "limits": {"cpu": "1", "memory": "1Gi"}},
					"securityContext": {"allowPrivilegeEscalation": false, "capabilities": {"drop": ["ALL"]}},
					"volumeMounts": [{"name": "data", "mountPath": "/var/lib/postgresql/data"}],
				}],
			},
		},
		"volumeClaimTemplates": [{
			"metadata": {"name": "data"},
			"spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "20Gi"}}},
		}],
	},
}

backup := {
	"apiVersion": "batch/v1",
	"kind": "CronJob",
	"metadata": {"name": "postgres-backup", "namespace": "shop"},
	"spec": {
		"schedule": "30 2 * * *",
		"concurrencyPolicy": "Forbid",
		"jobTemplate": {"spec": {"template": {"spec": {
			"restartPolicy": "OnFailure",
			"securityContext": {"runAsNonRoot": true, "runAsUser": 999, "seccompProfile": {"type": "RuntimeDefault"}},
			"containers": [{
				"name": "backup",
				"image": "registry.example.com:5000/ops/pg-backup:2.3.0",
				"args": ["--target=s3://backups/shop"],
				"resources": {"requests": {"cpu": "100m", "memory": "256Mi"}, "limits": {"cpu": "500m", "memory": "512Mi"}},
				"securityContext": {"allowPrivilegeEscalation": false, "readOnlyRootFilesystem": true, "capabilities": {"drop": ["ALL"]}},
			}],
		}}}},
	},
}

service_account_token := {
	"apiVersion": "v1",
	"kind": "Secret",
	"type": "kubernetes.io/service-account-token",
	"metadata": {"name": "deployer-token", "namespace": "shop", "annotations": {"kubernetes.io/service-account.name": "deployer"}},
}

network_policy := {
	"apiVersion": "networking.k8s.io/v1",
	"kind": "NetworkPolicy",
	"metadata": {"name": "web", "namespace": "shop"},
	"spec": {
		"podSelector": {"matchLabels": {"app.kubernetes.io/name": "web"}},
		"policyTypes": ["Ingress"],
		"ingress": [{"ports": [{"port": 8080, "protocol": "TCP"}]}],
	},
}

pdb := {
	"apiVersion": "policy/v1",
	"kind": "PodDisruptionBudget",
	"metadata": {"name": "web", "namespace": "shop"},
	"spec": {"minAvailable": 1, "selector": {"matchLabels": {"app.kubernetes.io/name": "web"}}},
}

cluster_role := {
	"apiVersion": "rbac.authorization.k8s.io/v1",
	"kind": "ClusterRole",
	"metadata": {"name": "shop-metrics-reader"},
	"rules": [{"nonResourceURLs": ["/metrics"], "verbs": ["get"]}],
}

test_good_namespaced_objects_pass_everything if {
	every obj in [
		service, internal_load_balancer, configmap, ingress, postgres, backup,
		service_account_token, network_policy, pdb, fx.workload("Pod", fx.pod_spec),
	] {
		denials(obj, fx.namespaced_object) == set()
	}
}

test_good_cluster_scoped_objects_pass_everything if {
	every obj in [namespace, cluster_role] {
		denials(obj, fx.cluster_scoped_object) == set()
	}
}

test_objects_of_unknown_scope_pass_when_well_formed if {
	monitor := {
		"apiVersion": "monitoring.coreos.com/v1",
		"kind": "ServiceMonitor",
		"metadata": {"name": "web", "namespace": "shop"},
		"spec": {"selector": {"matchLabels": {"app.kubernetes.io/name": "web"}}, "endpoints": [{"port": "http"}]},
	}
	denials(monitor, fx.unknown_scope_object) == set()
}

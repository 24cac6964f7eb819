package cluster_test

import rego.v1

import data.lib.fixtures_test as fx

load_balancer(annotations) := {
	"apiVersion": "v1",
	"kind": "Service",
	"metadata": {"name": "ingress-nginx", "namespace": "shop", "annotations": annotations},
	"spec": {
		"type": "LoadBalancer",
		"selector": {"app.kubernetes.io/name": "ingress-nginx"},
		"ports": [{"name": "https", "port": 443, "targetPort": "https"}],
		"externalTrafficPolicy": "Local",
	},
}

public := load_balancer({})

test_public_load_balancer_denied if {
	msgs := data.cluster.deny_public_load_balancer with input as public with data.policyrun.cluster as fx.restricted_cluster
	count(msgs) == 1
	some msg in msgs
	startswith(msg, `Service "ingress-nginx" is a public LoadBalancer, which cluster "prod" does not allow (policy.public_load_balancers is not true)`)
	contains(msg, `networking.gke.io/load-balancer-type: "Internal"`)
}

test_public_load_balancer_allowed_where_enabled if {
	count(data.cluster.deny_public_load_balancer) == 0 with input as public with data.policyrun.cluster as fx.public_lb_cluster
}

test_public_load_balancers_must_be_boolean_true if {
	cluster := object.union(fx.restricted_cluster, {"policy": {"public_load_balancers": "true"}})
	count(data.cluster.deny_public_load_balancer) == 1 with input as public with data.policyrun.cluster as cluster
	count(data.cluster.deny_public_load_balancer) == 1 with input as public with data.policyrun as {}
}

test_internal_load_balancers_allowed if {
	every key, value in data.cluster.internal_load_balancer_annotations {
		count(data.cluster.deny_public_load_balancer) == 0 with input as load_balancer({key: value})
			with data.policyrun.cluster as fx.restricted_cluster
	}
}

test_internal_annotations_listed if {
	data.cluster.internal_load_balancer_annotations["networking.gke.io/load-balancer-type"] == "Internal"
	data.cluster.internal_load_balancer_annotations["service.beta.kubernetes.io/aws-load-balancer-internal"] == "true"
	data.cluster.internal_load_balancer_annotations["service.beta.kubernetes.io/azure-load-balancer-internal"] == "true"
}

test_internal_annotation_with_other_value_denied if {
	obj := load_balancer({"service.beta.kubernetes.io/azure-load-balancer-internal": "false"})
	count(data.cluster.deny_public_load_balancer) == 1 with input as obj with data.policyrun.cluster as fx.restricted_cluster
}

test_aws_internal_annotation_as_the_aws_cloud_provider_reads_it if {
	aws := "service.beta.kubernetes.io/aws-load-balancer-internal"
	every value in ["true", "0.0.0.0/0", "yes"] {
		count(data.cluster.deny_public_load_balancer) == 0 with input as load_balancer({aws: value})
			with data.policyrun.cluster as fx.restricted_cluster
	}
	every value in ["false", ""] {
		count(data.cluster.deny_public_load_balancer) == 1 with input as load_balancer({aws: value})
			with data.policyrun.cluster as fx.restricted_cluster
	}
}

test_other_service_types_allowed if {
	every type in ["ClusterIP", "NodePort", "ExternalName"] {
		obj := object.union(public, {"spec": {"type": type}})
		count(data.cluster.deny_public_load_balancer) == 0 with input as obj with data.policyrun.cluster as fx.restricted_cluster
	}
	count(data.cluster.deny_public_load_balancer) == 0 with input as object.remove(public, ["spec"])
		with data.policyrun.cluster as fx.restricted_cluster
}

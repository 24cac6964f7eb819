# Cluster-wide exposure rules.
#
# deny_public_load_balancer: a Service of type LoadBalancer gets a public address unless the
# cloud is told otherwise. It is allowed only in clusters whose policy table sets
# public_load_balancers = true; elsewhere it must carry one of the annotations below that make
# the load balancer internal.
package cluster

import rego.v1

# Annotation -> value that makes a LoadBalancer Service internal (the value the message
# suggests; see _internal for the AWS annotation, which takes more).
internal_load_balancer_annotations := {
	"networking.gke.io/load-balancer-type": "Internal",
	"cloud.google.com/load-balancer-type": "Internal", # GKE, older clusters
	"service.beta.kubernetes.io/aws-load-balancer-internal": "true",
	"service.beta.kubernetes.io/aws-load-balancer-scheme": "internal", # AWS Load Balancer Controller
	"service.beta.kubernetes.io/azure-load-balancer-internal": "true",
}

deny_public_load_balancer contains msg if {
	input.kind == "Service"
	input.spec.type == "LoadBalancer"
	not data.policyrun.cluster.policy.public_load_balancers == true
	not _internal
	msg := sprintf(
		"Service %q is a public LoadBalancer, which cluster %q does not allow (policy.public_load_balancers is not true); make it internal with one of the annotations %s",
		[data.lib.kubernetes.object_name, data.lib.kubernetes.cluster_name, concat(", ", sort([sprintf("%s: %q", [k, v]) | some k, v in internal_load_balancer_annotations]))],
	)
}

# AWS's cloud provider (in-tree, and cloud-provider-aws after it) makes the load balancer
# internal for any value of this annotation but "false"; its long-documented example value is
# "0.0.0.0/0".
aws_internal_annotation := "service.beta.kubernetes.io/aws-load-balancer-internal"

_internal if {
	some key, value in internal_load_balancer_annotations
	key != aws_internal_annotation
	input.metadata.annotations[key] == value
}

_internal if {
	value := input.metadata.annotations[aws_internal_annotation]
	not value in {"", "false"}
}

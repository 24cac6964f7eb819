// Facts about the cluster being expanded, chosen by the `cluster` ext var (always set by the tools).
//
// Only cluster files use this: common/ stacks take such facts as parameters, so the
// same stack expands the same way wherever it runs.
local clusters = {
  dev: {
    domain: 'dev.example.com',
    vpc_cidr: '10.1.0.0/16',
    // Ingress ELBs are internal: dev is only reachable over the VPN.
    internal_lb: true,
  },
  int: {
    domain: 'int.example.com',
    vpc_cidr: '10.2.0.0/16',
    internal_lb: true,
  },
  web: {
    domain: 'web.example.com',
    vpc_cidr: '10.3.0.0/16',
    // The only cluster whose ingress controller faces the internet.
    internal_lb: false,
  },
};

local name = std.extVar('cluster');

assert std.objectHas(clusters, name) :
       'cluster.libsonnet: unknown cluster "%s" (known: %s)' % [name, std.join(', ', std.objectFields(clusters))];

clusters[name] {
  name: name,
  // Every cluster has a wildcard DNS record pointing at its ingress ELB, so any
  // Ingress host under this domain just works.
  host(service):: '%s.%s' % [service, self.domain],
}

// Tests of the name checks behind the library's asserts.
local kube = import 'kube.libsonnet';
local v = kube.validate;

local longLabel = std.join('', ['a' for i in std.range(1, 64)]);

{
  label_ok: std.assertEqual([v.dns1123Label(s) for s in ['a', 'web-1', '0abc', longLabel[1:]]], [true, true, true, true]),
  label_bad: std.assertEqual(
    [v.dns1123Label(s) for s in ['', 'Web', 'web_1', '-web', 'web-', 'a.b', longLabel, 42]],
    [false, false, false, false, false, false, false, false],
  ),
  service_names_start_with_a_letter: std.assertEqual([v.dns1035Label(s) for s in ['proxy', '1proxy']], [true, false]),
  subdomain: std.assertEqual(
    [v.dns1123Subdomain(s) for s in ['a.b-c.d', 'a..b', '.a', 'a.', 'A.b']],
    [true, false, false, false, false],
  ),
  rbac: std.assertEqual(
    [v.pathSegment(s) for s in ['system:controller:x', 'a/b', '..', '']],
    [true, false, false, false],
  ),
  port_names: std.assertEqual(
    [v.portName(s) for s in ['http', 'http-metrics', 'a-very-long-port-name', '8080', 'a--b']],
    [true, true, false, false, false],
  ),
  ports: std.assertEqual([v.port(p) for p in [1, 65535, 0, 65536, '80', 80.5]], [true, true, false, false, false, false]),
  images: std.assertEqual(
    [
      v.imagePinned(i)
      for i in [
        'nginx:1.27',
        'registry.k8s.io/ingress-nginx/controller:v1.11.3',
        'registry:5000/team/app@sha256:0123abcd',
        'nginx',
        'nginx:latest',
        'registry:5000/team/app',
      ]
    ],
    [true, true, true, false, false, false],
  ),
}

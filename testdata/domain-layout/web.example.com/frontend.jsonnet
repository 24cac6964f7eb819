local site = import 'site.libsonnet';

{
  namespace: site.namespace('frontend'),
  weights: site.weights('weights', 'frontend'),
  // A fraction: the C++ tool prints 0.10000000000000001, jrsonnet 0.1.
  canary: site.limits('canary', 'frontend', 0.1),
}

local site = import 'site.libsonnet';

{
  namespace: site.namespace('frontend'),
  weights: site.weights('weights', 'frontend'),
  limits: site.limits('limits', 'frontend', 1),
}

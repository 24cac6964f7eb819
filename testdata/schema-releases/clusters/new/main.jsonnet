// The same objects in every cluster.
{
  items_: import 'release-dependent.libsonnet',
}

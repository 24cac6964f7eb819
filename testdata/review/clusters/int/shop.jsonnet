// The shop stack as cluster int has it.
(import 'shop.libsonnet')(import 'params.libsonnet')

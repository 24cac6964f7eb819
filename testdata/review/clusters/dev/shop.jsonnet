// The shop stack as cluster dev has it.
(import 'shop.libsonnet')(import 'params.libsonnet')

// The shop stack as cluster web has it.
(import 'shop.libsonnet')(import 'params.libsonnet')

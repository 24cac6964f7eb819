{
  apiVersion: 'v1',
  kind: 'List',
  items: [
    import '../../common/web.libsonnet',
  ],
}

import '../../common/app.libsonnet'

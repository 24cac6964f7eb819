local mini = import 'mini.libsonnet';

mini.List() { items_+: { cm: mini.ConfigMap('error', 'app') { data+: error 'no data for ]]> <here> & \u001b[31mred' } } }

// An 8 MiB string: fine to evaluate, but `regex.find_n` makes a value of every character.
local mini = import 'mini.libsonnet';
local doubled(text, times) = if times == 0 then text else doubled(text + text, times - 1);

mini.List() {
  items_+: {
    cm: mini.ConfigMap('huge', 'app') { data+: { blob: doubled('y', 23) } },
  },
}

// A string doubled 31 times: 2 GiB of text.
local mini = import 'mini.libsonnet';
local doubled(text, times) = if times == 0 then text else doubled(text + text, times - 1);

mini.List() {
  items_+: {
    cm: mini.ConfigMap('doubling', 'app') { data+: { text: doubled('x', 31) } },
  },
}

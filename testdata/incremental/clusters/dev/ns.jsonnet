// The namespace every stack uses; imports nothing.
{
  items_: {
    ns: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'apps' } },
  },
}

{ prefix: 'app-' }

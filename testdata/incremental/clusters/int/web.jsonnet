{ items_: import '../../common/web.jsonnet' }

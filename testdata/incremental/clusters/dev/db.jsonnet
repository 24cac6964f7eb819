{ items_: import '../../common/db.jsonnet' }

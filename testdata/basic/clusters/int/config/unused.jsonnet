// Files in subdirectories are only imported, never entries: this one would fail.
error 'not an entry'

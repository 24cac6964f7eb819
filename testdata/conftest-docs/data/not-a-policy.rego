# In a --data directory: data files are loaded from here, Rego modules never.
package main

import rego.v1

deny contains "a module in a --data directory was loaded"

# A policy that looks across files (`test --combine`): the CI configuration deploys the
# chart version the chart declares.
package combined

import rego.v1

deny contains msg if {
	some ci in input
	endswith(ci.path, "ci.json")
	some chart in input
	endswith(chart.path, "chart.yaml")
	ci.contents.deploy.chart_version != chart.contents.version
	msg := sprintf("%s deploys chart %s, %s declares %s", [ci.path, ci.contents.deploy.chart_version, chart.path, chart.contents.version])
}

# Every values document of a multi-document file arrives as one list of contents.
deny_values contains msg if {
	some file in input
	endswith(file.path, "values.yaml")
	count(file.contents) != 3
	msg := sprintf("values.yaml holds %d documents", [count(file.contents)])
}

# Whatever a policy says of a Secret among the files, its values stay hidden.
deny_secret_values contains msg if {
	some file in input
	file.contents.kind == "Secret"
	msg := sprintf("%s holds %v", [file.path, file.contents.data])
}

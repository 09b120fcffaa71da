"""`helm-mgmt bench`: the zero-downtime benchmark of a chart on the local cluster."""

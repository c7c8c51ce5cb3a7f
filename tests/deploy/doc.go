// Package deploy checks kmlog's deployment files without deploying them:
// serverless.yml (AWS Lambda, through osls or Serverless v4), the
// Kubernetes and Knative manifests under infra/, and the func.yaml of each
// function. Every artifact serverless.yml names is built the way
// scripts/build-lambda.sh builds it (linux/arm64, -tags lambda.norpc, a
// static binary named bootstrap); every manifest decodes, names what it
// refers to consistently (selectors, config maps, secrets, sinks, the
// ingester ring's SRV name), scales its functions to zero, and runs kmlog
// with a target kmlog has or is meant to have.
package deploy

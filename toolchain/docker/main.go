// pulumi-resource-docker for machines without Pulumi's release downloads: the Terraform docker
// provider (served by the Go module proxy) bridged with pulumi-terraform-bridge, under the tokens,
// property names and version the pinned pulumi-docker Python SDK expects.
//
// Only the SDK v2 half of the upstream provider is bridged: every resource the program uses
// (container, network, volume, remote image) lives there. The native `docker.Image` build
// resource of the official plugin is not provided.
package main

import (
	_ "embed"
	"os"
	"runtime"

	"github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfbridge"
	"github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfbridge/tokens"
	"github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfgen"
	shimv2 "github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfshim/sdk-v2"

	upstream "github.com/terraform-providers/terraform-provider-docker/preflightexport"
)

// Set at build time (-X main.version=...) to the version the Python SDK declares.
var version = "0.0.0-dev"

// Both files come from this program's own `schema` pass (tfgen); see scripts/plugins.py.
//
//go:embed schema.json
var schema []byte

//go:embed bridge-metadata.json
var metadata []byte

// docker:index/<name with a lower-case first letter>:<name>, as the Python SDK's tokens.
func resource(name string) *tfbridge.ResourceInfo {
	return &tfbridge.ResourceInfo{Tok: tfbridge.MakeResource("docker", "index", name)}
}

func providerInfo() tfbridge.ProviderInfo {
	container := resource("Container")
	// As the official plugin: a container is replaced delete-first unless the program says
	// otherwise (Preflight's services do, explicitly, so old and new overlap).
	container.DeleteBeforeReplace = true
	container.Fields = map[string]*tfbridge.SchemaInfo{
		"command":           {Name: "command"},
		"networks_advanced": {Name: "networksAdvanced"},
	}
	remoteImage := resource("RemoteImage")
	remoteImage.Fields = map[string]*tfbridge.SchemaInfo{"name": {Name: "name"}}

	defaultHost := "unix:///var/run/docker.sock"
	if runtime.GOOS == "windows" {
		defaultHost = "npipe:////./pipe/docker_engine"
	}
	info := tfbridge.ProviderInfo{
		P:            shimv2.NewProvider(upstream.New(version)),
		Name:         "docker",
		Version:      version,
		GitHubOrg:    "kreuzwerker",
		MetadataInfo: tfbridge.NewProviderMetadata(metadata),
		Config: map[string]*tfbridge.SchemaInfo{
			"host":          {Default: &tfbridge.DefaultInfo{EnvVars: []string{"DOCKER_HOST"}, Value: defaultHost}},
			"registry_auth": {Name: "registryAuth", MaxItemsOne: tfbridge.False()},
		},
		Resources: map[string]*tfbridge.ResourceInfo{
			"docker_config":         resource("ServiceConfig"),
			"docker_container":      container,
			"docker_image":          remoteImage,
			"docker_network":        resource("Network"),
			"docker_secret":         resource("Secret"),
			"docker_service":        resource("Service"),
			"docker_volume":         resource("Volume"),
			"docker_registry_image": resource("RegistryImage"),
			"docker_plugin":         resource("Plugin"),
			"docker_tag":            resource("Tag"),
		},
	}
	info.MustComputeTokens(tokens.SingleModule("docker_", "index", tokens.MakeStandard("docker")))
	info.SetAutonaming(255, "-")
	return info
}

func main() {
	// `schema --out DIR --skip-docs --skip-examples` writes the Pulumi schema (tfgen); the build
	// embeds it in a second pass.
	if len(os.Args) > 1 && os.Args[1] == "schema" {
		tfgen.Main("docker", version, providerInfo())
		return
	}
	tfbridge.Main("docker", version, providerInfo(), schema)
}

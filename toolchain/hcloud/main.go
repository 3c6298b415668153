// pulumi-resource-hcloud for machines without Pulumi's release downloads: the Terraform hcloud
// provider (served by the Go module proxy; SDK v2 and plugin-framework halves, muxed) bridged with
// pulumi-terraform-bridge, under the tokens, property names and version of the pinned
// pulumi-hcloud Python SDK.
package main

import (
	"context"
	_ "embed"
	"os"

	"github.com/hetznercloud/terraform-provider-hcloud/hcloud"
	pfbridge "github.com/pulumi/pulumi-terraform-bridge/v3/pkg/pf/tfbridge"
	pftfgen "github.com/pulumi/pulumi-terraform-bridge/v3/pkg/pf/tfgen"
	"github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfbridge"
	"github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfbridge/tokens"
	shim "github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfshim"
	shimv2 "github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfshim/sdk-v2"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

// Set at build time (-X main.version=...) to the version the Python SDK declares.
var version = "0.0.0-dev"

// Both files come from this program's own `schema` pass (tfgen); see scripts/plugins.py. The
// metadata carries the table that routes each resource to the SDK v2 or the framework half.
//
//go:embed schema.json
var schema []byte

//go:embed bridge-metadata.json
var metadata []byte

// The Terraform provider stores servers' network blocks without alias_ips when none are given,
// which would show a diff on every preview; send an explicit empty list instead.
func defaultAliasIPs(_ context.Context, config, _ resource.PropertyMap) (resource.PropertyMap, error) {
	networks, ok := config["networks"]
	if !ok || !networks.IsArray() {
		return config, nil
	}
	for _, network := range networks.ArrayValue() {
		if network.IsObject() {
			if _, set := network.ObjectValue()["aliasIps"]; !set {
				network.ObjectValue()["aliasIps"] = resource.NewProperty([]resource.PropertyValue{})
			}
		}
	}
	return config, nil
}

func providerInfo() tfbridge.ProviderInfo {
	info := tfbridge.ProviderInfo{
		P: pfbridge.MuxShimWithPF(context.Background(),
			shimv2.NewProvider(hcloud.Provider()), hcloud.NewPluginProvider()),
		Name:         "hcloud",
		Version:      version,
		GitHubOrg:    "hetznercloud",
		MetadataInfo: tfbridge.NewProviderMetadata(metadata),
		Resources: map[string]*tfbridge.ResourceInfo{
			"hcloud_certificate": {Fields: map[string]*tfbridge.SchemaInfo{"certificate": {CSharpName: "CertificateContents"}}},
			"hcloud_server":      {PreCheckCallback: defaultAliasIPs},
		},
	}
	// Terraform ids of hcloud objects are numbers; Pulumi ids are strings.
	info.P.ResourcesMap().Range(func(key string, value shim.Resource) bool {
		if id, ok := value.Schema().GetOk("id"); ok && id.Type() != shim.TypeString {
			res := info.Resources[key]
			if res == nil {
				res = &tfbridge.ResourceInfo{}
				info.Resources[key] = res
			}
			if res.Fields == nil {
				res.Fields = map[string]*tfbridge.SchemaInfo{}
			}
			res.Fields["id"] = &tfbridge.SchemaInfo{Type: "string"}
		}
		return true
	})
	info.MustComputeTokens(tokens.SingleModule("hcloud_", "index", tokens.MakeStandard("hcloud")))
	info.SetAutonaming(255, "-")
	return info
}

func main() {
	// `schema --out DIR --skip-docs --skip-examples` writes the schema and the mux table (tfgen);
	// the build embeds them in a second pass.
	if len(os.Args) > 1 && os.Args[1] == "schema" {
		pftfgen.MainWithMuxer("hcloud", providerInfo())
		return
	}
	pfbridge.MainWithMuxer(context.Background(), "hcloud", providerInfo(), schema)
}

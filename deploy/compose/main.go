// Command docker-compose is Docker Compose v2, built from its released module.
//
// `go install github.com/docker/compose/v2/cmd@version` refuses the module because its
// go.mod has exclude directives, which apply only to a main module. This module is that
// main module: go.mod repeats the excludes, and main does what compose's own cmd/main.go
// does (its package main cannot be imported). The version is stamped at link time into
// compose's internal.Version by scripts/docker-compose.sh.
package main

import (
	"os"

	dockercli "github.com/docker/cli/cli"
	"github.com/docker/cli/cli-plugins/metadata"
	"github.com/docker/cli/cli-plugins/plugin"
	"github.com/docker/cli/cli/command"
	"github.com/docker/compose/v2/cmd/compatibility"
	commands "github.com/docker/compose/v2/cmd/compose"
	"github.com/docker/compose/v2/cmd/prompt"
	"github.com/docker/compose/v2/pkg/compose"
	"github.com/spf13/cobra"
)

// version is set with -ldflags "-X main.version=..." alongside compose's internal.Version.
var version = "unknown"

func main() {
	if plugin.RunningStandalone() {
		os.Args = append([]string{"docker"}, compatibility.Convert(os.Args[1:])...)
	}
	plugin.Run(
		func(cli command.Cli) *cobra.Command {
			backend := compose.NewComposeService(cli,
				compose.WithPrompt(prompt.NewPrompt(cli.In(), cli.Out()).Confirm),
			)
			cmd := commands.RootCommand(cli, backend)
			originalPreRunE := cmd.PersistentPreRunE
			cmd.PersistentPreRunE = func(cmd *cobra.Command, args []string) error {
				if err := plugin.PersistentPreRunE(cmd, args); err != nil {
					return err
				}
				if originalPreRunE != nil {
					return originalPreRunE(cmd, args)
				}
				return nil
			}
			cmd.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
				return dockercli.StatusError{StatusCode: 1, Status: err.Error()}
			})
			return cmd
		},
		metadata.Metadata{SchemaVersion: "0.1.0", Vendor: "Docker Inc.", Version: version},
		command.WithUserAgent("compose/"+version),
	)
}

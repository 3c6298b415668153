// pulumi-language-python for machines without Pulumi's release downloads.
//
// The newest Python language host the Go module proxy serves is the one inside sdk/v3 v3.68.0.
// It runs programs under the current CLI, but its RunPlugin starts `python <request.program>`,
// and current CLIs leave `program` empty (they send ProgramInfo instead), so Python policy packs
// cannot start. This adapter runs that host as a child and forwards every call to it, except
// RunPlugin for analyzers (policy packs), which it serves itself from ProgramInfo: the pack's
// virtualenv (runtime option `virtualenv`), `python -u -m pulumi.policy <engine> .` in the pack's
// directory, its output streamed back as the protocol asks, behind an analyzer front
// (analyzer_front.go) that keeps the pack's start-up off the engine's critical path.
package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/pulumi/pulumi/sdk/v3/go/common/util/cmdutil"
	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
)

// The served host, installed beside this binary under this name.
const innerHost = "pulumi-language-python-v3.68"

// The served host starts only when a call needs it: a policy pack's host never does, which keeps
// the pack's start-up (part of every preview with --policy-pack) short.
type adapter struct {
	pulumirpc.UnimplementedLanguageRuntimeServer
	once    sync.Once
	client  pulumirpc.LanguageRuntimeClient
	failure error
}

func (a *adapter) inner() pulumirpc.LanguageRuntimeClient {
	a.once.Do(func() { a.client, a.failure = startInner() })
	if a.failure != nil {
		cmdutil.Exit(a.failure)
	}
	return a.client
}

// The v3.68 host predates Handshake; answering Unimplemented here is what it would answer.
func (a *adapter) Handshake(context.Context, *pulumirpc.LanguageHandshakeRequest) (*pulumirpc.LanguageHandshakeResponse, error) {
	return nil, status.Error(codes.Unimplemented, "Handshake is not implemented by the v3.68 host")
}

func (a *adapter) GetRequiredPlugins(ctx context.Context, req *pulumirpc.GetRequiredPluginsRequest) (*pulumirpc.GetRequiredPluginsResponse, error) {
	return a.inner().GetRequiredPlugins(ctx, req)
}

func (a *adapter) GetRequiredPackages(ctx context.Context, req *pulumirpc.GetRequiredPackagesRequest) (*pulumirpc.GetRequiredPackagesResponse, error) {
	return a.inner().GetRequiredPackages(ctx, req)
}

func (a *adapter) Run(ctx context.Context, req *pulumirpc.RunRequest) (*pulumirpc.RunResponse, error) {
	return a.inner().Run(ctx, req)
}

func (a *adapter) GetPluginInfo(ctx context.Context, req *emptypb.Empty) (*pulumirpc.PluginInfo, error) {
	return a.inner().GetPluginInfo(ctx, req)
}

func (a *adapter) About(ctx context.Context, req *pulumirpc.AboutRequest) (*pulumirpc.AboutResponse, error) {
	return a.inner().About(ctx, req)
}

func (a *adapter) GetProgramDependencies(ctx context.Context, req *pulumirpc.GetProgramDependenciesRequest) (*pulumirpc.GetProgramDependenciesResponse, error) {
	return a.inner().GetProgramDependencies(ctx, req)
}

func (a *adapter) RuntimeOptionsPrompts(ctx context.Context, req *pulumirpc.RuntimeOptionsRequest) (*pulumirpc.RuntimeOptionsResponse, error) {
	return a.inner().RuntimeOptionsPrompts(ctx, req)
}

// relay copies a streaming response of the served host to the engine until it ends.
func relay[T any](stream grpc.ServerStreamingClient[T], err error, server grpc.ServerStreamingServer[T]) error {
	if err != nil {
		return err
	}
	for {
		msg, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if err := server.Send(msg); err != nil {
			return err
		}
	}
}

func (a *adapter) InstallDependencies(req *pulumirpc.InstallDependenciesRequest, server grpc.ServerStreamingServer[pulumirpc.InstallDependenciesResponse]) error {
	stream, err := a.inner().InstallDependencies(server.Context(), req)
	return relay(stream, err, server)
}

func (a *adapter) RunPlugin(req *pulumirpc.RunPluginRequest, server grpc.ServerStreamingServer[pulumirpc.RunPluginResponse]) error {
	if req.Program != "" || req.Kind != "analyzer" || req.Info == nil {
		stream, err := a.inner().RunPlugin(server.Context(), req)
		return relay(stream, err, server)
	}
	return runPolicyPack(req, server)
}

func runPolicyPack(req *pulumirpc.RunPluginRequest, server grpc.ServerStreamingServer[pulumirpc.RunPluginResponse]) error {
	dir := req.Info.ProgramDirectory
	python, env, venv := "python3", req.Env, ""
	if venv = req.Info.Options.GetFields()["virtualenv"].GetStringValue(); venv != "" {
		if !filepath.IsAbs(venv) {
			venv = filepath.Join(req.Info.RootDirectory, venv)
		}
		if _, err := os.Stat(filepath.Join(venv, "bin", "python")); err != nil {
			return fmt.Errorf("the policy pack's virtualenv %s does not exist; create it (e.g. `make policy-venv`)", venv)
		}
		python = filepath.Join(venv, "bin", "python")
		env = append(env, "VIRTUAL_ENV="+venv, "PATH="+filepath.Join(venv, "bin")+":"+os.Getenv("PATH"))
	}
	entry := req.Info.EntryPoint
	if entry == "" {
		entry = "."
	}
	closer, stdout, stderr, err := rpcutil.MakeRunPluginStreams(server, false)
	if err != nil {
		return err
	}
	defer closer.Close()

	// The engine talks to the front (analyzer_front.go), which talks to the pack once it is up.
	front := newAnalyzerFront(packCacheDir(dir, venv))
	stop := make(chan bool)
	handle, err := rpcutil.ServeWithOptions(rpcutil.ServeOptions{
		Init:   func(srv *grpc.Server) error { pulumirpc.RegisterAnalyzerServer(srv, front); return nil },
		Cancel: stop,
	})
	if err != nil {
		return err
	}
	defer func() { close(stop); <-handle.Done }()
	if _, err := fmt.Fprintf(stdout, "%d\n", handle.Port); err != nil {
		return err
	}

	cmd := exec.CommandContext(server.Context(), python, append(append([]string{"-u", "-m", "pulumi.policy"}, req.Args...), entry)...)
	cmd.Dir = dir
	cmd.Env = env
	cmd.Stderr = stderr
	packOut, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		front.connect("", err)
		return fmt.Errorf("starting the policy pack with %s: %w", python, err)
	}
	port := make(chan string, 1)
	copied := make(chan error, 1)
	go func() { copied <- splitPort(packOut, stdout, port) }()
	go func() {
		if p, ok := <-port; ok {
			front.connect(p, nil)
		} else {
			front.connect("", fmt.Errorf("it printed no port (see its output above)"))
		}
	}()
	<-copied
	code := int32(0)
	if err := cmd.Wait(); err != nil {
		exit, ok := err.(*exec.ExitError)
		if !ok {
			return err
		}
		code = int32(exit.ExitCode())
	}
	if err := closer.Close(); err != nil {
		return err
	}
	return server.Send(&pulumirpc.RunPluginResponse{Output: &pulumirpc.RunPluginResponse_Exitcode{Exitcode: code}})
}

// startInner runs the served host with this process's arguments and dials the port it prints.
func startInner() (pulumirpc.LanguageRuntimeClient, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(filepath.Join(filepath.Dir(self), innerHost), os.Args[1:]...)
	cmd.Stderr = os.Stderr
	// The child goes when this adapter goes, however the engine stops it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", innerHost, err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		return nil, fmt.Errorf("%s printed no port: %w", innerHost, err)
	}
	conn, err := grpc.NewClient("127.0.0.1:"+strings.TrimSpace(line),
		grpc.WithTransportCredentials(insecure.NewCredentials()), rpcutil.GrpcChannelOptions())
	if err != nil {
		return nil, err
	}
	return pulumirpc.NewLanguageRuntimeClient(conn), nil
}

func main() {
	handle, err := rpcutil.ServeWithOptions(rpcutil.ServeOptions{
		Init: func(srv *grpc.Server) error {
			pulumirpc.RegisterLanguageRuntimeServer(srv, &adapter{})
			return nil
		},
		Options: rpcutil.OpenTracingServerInterceptorOptions(nil),
	})
	if err != nil {
		cmdutil.Exit(err)
	}
	fmt.Printf("%d\n", handle.Port)
	if err := <-handle.Done; err != nil {
		cmdutil.Exit(err)
	}
}

package main

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"opencen/internal/api/admin"
	"opencen/internal/rpc"
	"opencen/internal/server"
)

// clientFlags are the connection flags of every command that talks to a server.
type clientFlags struct{ endpoint, keyID, secret string }

func (c *clientFlags) register(cmd *cobra.Command) {
	f := cmd.PersistentFlags()
	f.StringVar(&c.endpoint, "endpoint", envOr("OPENCEN_ENDPOINT", "http://127.0.0.1:8080"), "server URL (env OPENCEN_ENDPOINT)")
	f.StringVar(&c.keyID, "access-key-id", os.Getenv("OPENCEN_ACCESS_KEY_ID"), "access key ID (env OPENCEN_ACCESS_KEY_ID)")
	f.StringVar(&c.secret, "access-key-secret", os.Getenv("OPENCEN_ACCESS_KEY_SECRET"), "access key secret (env OPENCEN_ACCESS_KEY_SECRET)")
}

func (c *clientFlags) client() (*rpc.Client, error) {
	if c.keyID == "" || c.secret == "" {
		return nil, fmt.Errorf("no access key: set --access-key-id and --access-key-secret (or OPENCEN_ACCESS_KEY_ID / OPENCEN_ACCESS_KEY_SECRET)")
	}
	return &rpc.Client{Endpoint: c.endpoint, AccessKeyID: c.keyID, AccessKeySecret: c.secret}, nil
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// call runs one admin action and prints its JSON answer without the RequestId.
func (c *clientFlags) call(cmd *cobra.Command, action string, params map[string]string) error {
	cl, err := c.client()
	if err != nil {
		return err
	}
	var out map[string]any
	if err := cl.Call(cmd.Context(), admin.Version, action, params, &out); err != nil {
		return err
	}
	delete(out, "RequestId")
	enc := json.NewEncoder(cmd.OutOrStdout())
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

func adminCmd() *cobra.Command {
	var cf clientFlags
	cmd := &cobra.Command{Use: "admin", Short: "Manage accounts and access keys (admin key required)"}
	cf.register(cmd)

	account := &cobra.Command{Use: "account", Short: "Manage accounts"}
	var name, accountID string
	create := &cobra.Command{
		Use:   "create",
		Short: "Create an account with one access key; prints {AccountId, AccessKeyId, AccessKeySecret}",
		RunE: func(cmd *cobra.Command, _ []string) error {
			return cf.call(cmd, "CreateAccount", map[string]string{"Name": name})
		},
	}
	create.Flags().StringVar(&name, "name", "", "account name")
	_ = create.MarkFlagRequired("name")
	show := &cobra.Command{
		Use:   "show",
		Short: "Show an account, its keys and its service-linked roles",
		RunE: func(cmd *cobra.Command, _ []string) error {
			return cf.call(cmd, "DescribeAccount", map[string]string{"AccountId": accountID})
		},
	}
	show.Flags().StringVar(&accountID, "account-id", "", "account to show (default: the caller's)")
	account.AddCommand(create, show)

	key := &cobra.Command{Use: "key", Short: "Manage access keys"}
	var keyAccount, keyID string
	keyCreate := &cobra.Command{
		Use:   "create",
		Short: "Create an access key for an account",
		RunE: func(cmd *cobra.Command, _ []string) error {
			return cf.call(cmd, "CreateAccessKey", map[string]string{"AccountId": keyAccount})
		},
	}
	keyCreate.Flags().StringVar(&keyAccount, "account-id", "", "account to add the key to")
	_ = keyCreate.MarkFlagRequired("account-id")
	status := func(use, short, value string) *cobra.Command {
		c := &cobra.Command{Use: use, Short: short, RunE: func(cmd *cobra.Command, _ []string) error {
			return cf.call(cmd, "UpdateAccessKeyStatus", map[string]string{"UserAccessKeyId": keyID, "Status": value})
		}}
		c.Flags().StringVar(&keyID, "id", "", "access key ID")
		_ = c.MarkFlagRequired("id")
		return c
	}
	keyDelete := &cobra.Command{
		Use:   "delete",
		Short: "Delete an access key",
		RunE: func(cmd *cobra.Command, _ []string) error {
			return cf.call(cmd, "DeleteAccessKey", map[string]string{"UserAccessKeyId": keyID})
		},
	}
	keyDelete.Flags().StringVar(&keyID, "id", "", "access key ID")
	_ = keyDelete.MarkFlagRequired("id")
	key.AddCommand(keyCreate, status("disable", "Disable an access key", "Inactive"), status("enable", "Enable an access key", "Active"), keyDelete)

	quota := &cobra.Command{Use: "quota", Short: "Manage per-account quotas"}
	var qAccount, qName string
	var qValue int
	quotaSet := &cobra.Command{
		Use:   "set",
		Short: "Set an account's quota (vpn-attachments-per-tr, ecmp-vpn-connections, api-requests-per-second, api-request-burst)",
		RunE: func(cmd *cobra.Command, _ []string) error {
			return cf.call(cmd, "SetQuota", map[string]string{"AccountId": qAccount, "QuotaName": qName, "Value": fmt.Sprint(qValue)})
		},
	}
	quotaSet.Flags().StringVar(&qAccount, "account-id", "", "account")
	quotaSet.Flags().StringVar(&qName, "name", "", "quota name")
	quotaSet.Flags().IntVar(&qValue, "value", 0, "new limit")
	for _, f := range []string{"account-id", "name", "value"} {
		_ = quotaSet.MarkFlagRequired(f)
	}
	quota.AddCommand(quotaSet)

	var recoverData, recoverKeyFile string
	recoverCmd := &cobra.Command{
		Use:   "recover",
		Short: "With the server stopped, add a new active key to the admin account; prints {AccountId, AccessKeyId, AccessKeySecret}",
		Long: "recover opens the data directory itself (the server must be stopped: the store admits one process)\n" +
			"and gives the admin account a new active access key, for an operator who has lost or disabled every admin key.",
		RunE: func(cmd *cobra.Command, _ []string) error {
			creds, err := server.RecoverAdmin(cmd.Context(), recoverData, recoverKeyFile)
			if err != nil {
				return err
			}
			enc := json.NewEncoder(cmd.OutOrStdout())
			enc.SetIndent("", "  ")
			return enc.Encode(creds)
		},
	}
	recoverCmd.Flags().StringVar(&recoverData, "data", "", "the server's data directory")
	recoverCmd.Flags().StringVar(&recoverKeyFile, "secret-key-file", "", "the server's --secret-key-file (default <data>/secret.key)")
	_ = recoverCmd.MarkFlagRequired("data")

	cmd.AddCommand(account, key, quota, recoverCmd, adminGatewayCmd(&cf), clusterCmd(&cf), adminVpcCmd(&cf))
	return cmd
}

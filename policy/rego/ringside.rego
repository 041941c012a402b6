# Ringside console authorization policy.
#
# The console asks `data.ringside.authz.allow` once for every page, server
# function and REST call, with an input document like:
#
#   {
#     "user": "alice",
#     "groups": ["payments"],
#     "roles": ["admin"],
#     "action": "cluster.update",
#     "resource": {"kind": "cluster", "cluster": "eu-1", "group": "payments"}
#   }
#
# `resource.group` is the group that owns the resource (for a create, the group
# the new resource will belong to). `resource.cluster`, `resource.tenant` and
# `resource.path` are there for policies that need them; this one does not.
#
# Anything not allowed below is denied, and the console shows a 403 page.
# Roles add up: a user with several roles gets the union of what they allow.
#
# Editing: the console reloads this file within a second of a change. An edit
# that does not parse keeps the previous policy in force and shows the error on
# the console's policy page, so save, then check that page. Use the policy
# simulator there to try a change before relying on it.

package ringside.authz

default allow := false

# Actions that only look. Keep in step with the console's action list
# (`ringside_policy::Action`): an action in neither set is denied to everyone,
# super-admins included, so a typo in a route mapping cannot open anything.
reads := {
	"fleet.read",
	"cluster.read",
	"operation.read",
	"license.read",
	"tenant.read",
	"audit.read",
	"policy.read",
	# Simulating evaluates the policy for a hypothetical request and changes
	# nothing, so it counts as a read.
	"policy.simulate",
	"token.read",
}

# Actions that change something: clusters, tenants, licenses, tokens, or the
# clusters themselves through operations (load, free, rebalance, ...).
changes := {
	"cluster.create",
	"cluster.update",
	"cluster.delete",
	"operation.run",
	"license.manage",
	"tenant.create",
	"tenant.update",
	"tenant.delete",
	"token.manage",
}

known_action if input.action in reads

known_action if input.action in changes

# super-admin: every known action on every resource.
allow if {
	"super-admin" in input.roles
	known_action
}

# admin and viewer: every read on every resource, except one tenant's policy.
allow if {
	some role in ["admin", "viewer"]
	role in input.roles
	input.action in reads
	input.action != "tenant.read"
}

# Tenant policies: the list (no `resource.tenant`; the console filters it
# tenant by tenant with the rule below) for anyone with a role, but one
# tenant's policy only for the groups that own it: tenant A's admin cannot
# read tenant B's policy.
allow if {
	some role in ["admin", "viewer"]
	role in input.roles
	input.action == "tenant.read"
	not input.resource.tenant
}

allow if {
	some role in ["admin", "viewer"]
	role in input.roles
	input.action == "tenant.read"
	owns_resource
}

# Everyone with a role manages their own API tokens (the console shows and
# revokes only the caller's). A token acts with its owner's roles, so it
# never allows more than the owner may do.
allow if {
	some role in ["admin", "viewer"]
	role in input.roles
	input.action == "token.manage"
}

# admin: changes only to resources owned by one of the admin's groups. This
# also covers creates, whose `resource.group` is the group of the new cluster
# or tenant. A resource without an owning group (a central license, say) can
# only be changed by a super-admin.
allow if {
	"admin" in input.roles
	input.action in changes
	owns_resource
}

owns_resource if {
	is_string(input.resource.group)
	input.resource.group != ""
	input.resource.group in input.groups
}

SAMPLES = {
    "member_role_change": lambda tenant: {"membership_id": tenant.memberships.first().pk},
    "member_remove": lambda tenant: {"membership_id": tenant.memberships.first().pk},
}

"""Pages that show or change several apps at once, composed here in the view layer so that no app has to import
a higher one: the billing dashboard and customer view, the contract (cancellation and unsubscribe), the license
and support plan pages (plans are bought and paid in one step), RP and end-user registration. Apps never import
this package (an import-linter contract says so)."""

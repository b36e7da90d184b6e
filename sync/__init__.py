"""The device protocol as pure functions: parsing submissions, the duplicate/edit rules, responses."""

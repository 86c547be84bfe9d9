module github.com/cloud37/ansible-playbook-operator/operator

go 1.26.0

module maskinportenagent

go 1.19

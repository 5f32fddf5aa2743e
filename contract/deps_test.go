package contract

import (
	_ "github.com/alibabacloud-go/cbn-20170912/v2/client"
	_ "github.com/alibabacloud-go/darabonba-openapi/v2/client"
	_ "github.com/aliyun/alibaba-cloud-sdk-go/services/cbn"
	_ "github.com/alibabacloud-go/tea-rpc/client"
)

// UniFLG for Unreal: VMC blendshapes over Unreal's OSC plugin -> morph targets (SAMPLE, NOT COMPILED HERE).
//
// Written against the documented API of Unreal's OSC plugin (UOSCManager, UOSCServer); this repository
// has no Unreal toolchain, so it has never been built. Add "OSC" to your module's
// PublicDependencyModuleNames and enable Edit > Plugins > OSC (Open Sound Control).
#pragma once

#include "Components/ActorComponent.h"
#include "CoreMinimal.h"
#include "OSCBundle.h"
#include "OSCMessage.h"
#include "UniFLGVmcFaceComponent.generated.h"

class UOSCServer;
class USkeletalMeshComponent;

UCLASS(ClassGroup = (UniFLG), meta = (BlueprintSpawnableComponent))
class UUniFLGVmcFaceComponent : public UActorComponent
{
    GENERATED_BODY()

public:
    UUniFLGVmcFaceComponent();

    /** `uniflg serve --vmc <this machine>:<Port>` sends here. */
    UPROPERTY(EditAnywhere, Category = "UniFLG")
    int32 Port = 39539;

    /** The address to listen on: 127.0.0.1 when the server runs on this machine; 0.0.0.0 (every interface)
     *  for a server on another machine (`--vmc 192.168.x.y:39539` names this machine's address). */
    UPROPERTY(EditAnywhere, Category = "UniFLG")
    FString ListenAddress = TEXT("127.0.0.1");

    /** The face mesh whose morph targets are driven. */
    UPROPERTY(EditAnywhere, Category = "UniFLG")
    TObjectPtr<USkeletalMeshComponent> Face;

    /** VMC name -> morph target (e.g. "A" -> "Fcl_MTH_A"); names not listed are used as morph names
     *  (perfect-sync names such as "JawOpen" map onto ARKit-named morphs with a rule "JawOpen" -> "jawOpen"). */
    UPROPERTY(EditAnywhere, Category = "UniFLG")
    TMap<FString, FName> NameMap;

protected:
    virtual void BeginPlay() override;
    virtual void EndPlay(const EEndPlayReason::Type Reason) override;

private:
    UFUNCTION()
    void OnMessage(const FOSCMessage& Message, const FString& IPAddress, int32 InPort);
    UFUNCTION()
    void OnBundle(const FOSCBundle& Bundle, const FString& IPAddress, int32 InPort);

    void Handle(const FOSCMessage& Message);

    UPROPERTY()
    TObjectPtr<UOSCServer> Server;

    TMap<FName, float> Pending;   // /VMC/Ext/Blend/Val values since the last Apply
};

// UniFLG for Unreal: see UniFLGVmcFaceComponent.h (SAMPLE, NOT COMPILED HERE).
#include "UniFLGVmcFaceComponent.h"

#include "Components/SkeletalMeshComponent.h"
#include "OSCManager.h"
#include "OSCServer.h"

UUniFLGVmcFaceComponent::UUniFLGVmcFaceComponent()
{
    PrimaryComponentTick.bCanEverTick = false;   // the OSC server delivers on the game thread
}

void UUniFLGVmcFaceComponent::BeginPlay()
{
    Super::BeginPlay();
    Server = UOSCManager::CreateOSCServer(ListenAddress, Port, /*bMulticastLoopback=*/false,
                                          /*bStartListening=*/true, TEXT("UniFLG VMC"), this);
    if (Server)
    {
        Server->OnOscMessageReceived.AddDynamic(this, &UUniFLGVmcFaceComponent::OnMessage);
        Server->OnOscBundleReceived.AddDynamic(this, &UUniFLGVmcFaceComponent::OnBundle);
    }
}

void UUniFLGVmcFaceComponent::EndPlay(const EEndPlayReason::Type Reason)
{
    if (Server)
    {
        Server->Stop();
    }
    Super::EndPlay(Reason);
}

void UUniFLGVmcFaceComponent::OnMessage(const FOSCMessage& Message, const FString&, int32)
{
    Handle(Message);
}

void UUniFLGVmcFaceComponent::OnBundle(const FOSCBundle& Bundle, const FString&, int32)
{
    // uniflg sends one bundle per frame: OK, T, Val..., Apply (docs/osc.md). Values are idempotent, so a
    // message seen both here and through OnMessage does no harm.
    for (const FOSCMessage& Message : UOSCManager::GetMessagesFromBundle(Bundle))
    {
        Handle(Message);
    }
}

void UUniFLGVmcFaceComponent::Handle(const FOSCMessage& Message)
{
    const FString Address = UOSCManager::GetOSCMessageAddress(Message).GetFullPath();
    if (Address == TEXT("/VMC/Ext/Blend/Val"))
    {
        FString Name;
        float Value = 0.f;
        if (UOSCManager::GetString(Message, 0, Name) && UOSCManager::GetFloat(Message, 1, Value))
        {
            const FName* Mapped = NameMap.Find(Name);
            Pending.Add(Mapped ? *Mapped : FName(*Name), FMath::Clamp(Value, 0.f, 1.f));
        }
    }
    else if (Address == TEXT("/VMC/Ext/Blend/Apply") && Face)
    {
        for (const TPair<FName, float>& Entry : Pending)
        {
            Face->SetMorphTarget(Entry.Key, Entry.Value);   // Unreal morph weights are 0..1
        }
        Pending.Reset();
    }
}
